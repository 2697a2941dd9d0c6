"""Where the client's CPU goes in the full pipeline, by package and by function.

    python benchmarks/profile_pipeline.py [--trials K] [--concurrency C] [--top N]

Runs throughput.py's (b) — the whole roibench pipeline against `roibench sim --latency 0` in
its own process — under cProfile, and prints each package's share of the main thread's own
CPU time (roibench, langgraph, openai, httpx/httpcore, pydantic, asyncio, mlflow, ...) and the
functions with the most own time. Use it before and after a change to the hot path; the
shares, not the absolute times, are what compare across machines.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import sysconfig
import warnings
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import pipeline, start_sim

PACKAGES = (
    "roibench",
    "langgraph",
    "langchain_core",
    "openai",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "anyio",
    "h11",
    "pydantic",
    "pydantic_core",
    "asyncio",
    "json",
    "mlflow",
    "sqlalchemy",
    "pandas",
)


STDLIB = Path(sysconfig.get_paths()["stdlib"])


def package_of(filename: str, function: str) -> str:
    """The package a profiled function belongs to: a known package, 'roibench' (the repo's own
    folders too), the standard library by module, or C code by its type's module."""
    if filename == "~":  # a C function: "{method 'execute' of 'sqlite3.Cursor' objects}"
        owner = function.split(" of '", 1)[1].split("'", 1)[0] if " of '" in function else ""
        return f"C: {owner.split('.')[0]}" if "." in owner else "C: builtins"
    if filename.startswith("<"):
        return "C: builtins"
    path = Path(filename)
    parts = path.parts
    if "site-packages" not in parts and path.is_relative_to(STDLIB):
        return f"stdlib: {path.relative_to(STDLIB).parts[0].removesuffix('.py')}"
    for name in PACKAGES:
        if name in parts:
            return name
    for marker in ("workflows", "agents"):  # the repo's own top-level folders
        if marker in parts:
            return "roibench"
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    return "other"


def shares(stats: pstats.Stats) -> dict[str, float]:
    """Own CPU time per package, as a fraction of the total."""
    own: dict[str, float] = defaultdict(float)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, tottime, _cum, _callers) in raw.items():
        own[package_of(filename, function)] += tottime
    total = sum(own.values()) or 1.0
    return {k: v / total for k, v in sorted(own.items(), key=lambda kv: -kv[1])}


def main() -> int:
    """Profile one pipeline run and print the breakdown."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5, help="trials per task (60 tasks)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=20, help="functions to list")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    proc, url = start_sim(0.0)
    try:
        pipeline(url, 1, 4, traced=False)  # warm imports and the simulator
        profiler = cProfile.Profile()
        profiler.enable()
        rate, log_share = pipeline(url, args.trials, args.concurrency, traced=False)
        profiler.disable()
    finally:
        proc.terminate()
        proc.wait()
    stats = pstats.Stats(profiler)
    print(f"{60 * args.trials} trials at concurrency {args.concurrency}: {rate:.1f} tasks/s "
          f"under the profiler (slower than without); MLflow logging {log_share:.1%}")  # fmt: skip
    print("\nown CPU time by package:")
    for name, share in shares(stats).items():
        if share >= 0.005:
            print(f"  {name:<16} {share:6.1%}")
    print(f"\ntop {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
