"""Throughput with per-trial MLflow traces on vs off, measured side by side in one process.

    python benchmarks/tracing.py [--suite evals/quickstart.toml] [--limit N] [--trials K]
                                 [--repeat R] [--tracking-uri URI]

Each round runs the whole suite on the simulator and logs it to MLflow (runs, tables, dataset
inputs, plots), once with tracing off and once with every trial traced; the order alternates
between rounds. Throughput = trials / (run + MLflow logging) wall time. Without
--tracking-uri each measurement logs to a fresh sqlite store in a temporary folder. The
target (issue 6): tracing on >= 0.6x tracing off.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(
    suite: Path, limit: int | None, trials: int | None, sample: float, uri: str | None
) -> tuple[int, float, float]:
    """Run and log the suite once; return (trials, run seconds, logging seconds)."""
    import mlflow

    from roibench.config.suite import load_suite
    from roibench.results.summary import summarize, tally_trials
    from roibench.run.plan import spec_for
    from roibench.run.runner import Runner, plan_suite
    from roibench.sinks.mlflow.runs import log_suite_run

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(uri or f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        if uri is None:  # create the schema outside the timed part
            mlflow.MlflowClient().search_experiments()
        plan = plan_suite(load_suite(suite), limit=limit, trials=trials)
        t0 = time.perf_counter()
        result = asyncio.run(Runner(plan).run())
        records = [t for ts in result.trials.values() for t in ts]
        spec = spec_for(plan, f"bench-tracing-{sample:g}")
        summaries = summarize(spec, tally_trials(spec, records))
        t1 = time.perf_counter()
        log_suite_run(
            spec,
            records,
            summaries,
            None,
            f"bench-tracing-{sample:g}",
            experiment_name="roibench-bench-tracing",
            trace_sample=sample,
        )
        t2 = time.perf_counter()
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        return plan.total_trials, t1 - t0, t2 - t1


def main() -> int:
    """Print throughput with tracing off and on, and their ratio."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=REPO / "evals" / "quickstart.toml")
    parser.add_argument("--limit", type=int, default=None, help="first N tasks per workflow")
    parser.add_argument("--trials", type=int, default=None, help="trials per task")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (order alternates)")
    parser.add_argument("--tracking-uri", default=None, help="e.g. http://127.0.0.1:5000")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import warnings

    warnings.filterwarnings("ignore")
    # warm imports (langgraph, mlflow, matplotlib) so neither mode pays them
    measure(args.suite, 1, 1, 1.0, args.tracking_uri)
    results: dict[str, list[tuple[int, float, float]]] = {"off": [], "on": []}
    for r in range(args.repeat):
        order = ("off", "on") if r % 2 == 0 else ("on", "off")
        for mode in order:
            sample = 1.0 if mode == "on" else 0.0
            results[mode].append(
                measure(args.suite, args.limit, args.trials, sample, args.tracking_uri)
            )
    print(f"{'tracing':<8} {'trials':>7} {'run s':>8} {'log s':>8} {'total s':>8} {'trials/s':>9}")
    rate: dict[str, float] = {}
    for mode, rows in results.items():
        n = rows[0][0]
        run_s = statistics.median(r[1] for r in rows)
        log_s = statistics.median(r[2] for r in rows)
        rate[mode] = n / (run_s + log_s)
        print(
            f"{mode:<8} {n:>7} {run_s:>8.2f} {log_s:>8.2f} {run_s + log_s:>8.2f} {rate[mode]:>9.1f}"
        )
    ratio = rate["on"] / rate["off"]
    print(f"throughput ratio, tracing on / off: {ratio:.2f} (target >= 0.60)")
    return 0 if ratio >= 0.6 else 1


if __name__ == "__main__":
    sys.exit(main())
