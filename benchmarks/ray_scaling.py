"""Ray scale-out: trial throughput with 1, 2 and 4 Ray workers against the simulator.

The simulator runs in its own process (`roibench sim --port 0 --latency 0`, loopback), so every
trial is pure CPU: the agent graph, the HTTP client, the simulator's replies, grading and the
driver's journal. Prints trials/s per worker count, the 1 -> 2 scaling ratio, the local
(asyncio, one process) executor for reference, and where the CPU went in each run (driver,
workers, simulator, Ray's own processes), read from /proc.

    python benchmarks/ray_scaling.py                      # 1, 2, 4 workers, local cluster
    python benchmarks/ray_scaling.py --address auto       # on a running `ray start` cluster
    python benchmarks/ray_scaling.py --profile            # + py-spy profile of each process

`--profile` needs `pip install py-spy` (a benchmark tool, not a roibench dependency).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import ray

from roibench.config.suite import parse_suite
from roibench.journal.store import Journal
from roibench.run.ray_executor import RayExecutor, connect
from roibench.run.runner import Runner, RunPlan, plan_suite

CLK_TCK = os.sysconf("SC_CLK_TCK")


def start_sim() -> tuple[subprocess.Popen[str], str]:
    """`roibench sim` on a free loopback port with zero latency; returns (process, base URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "roibench", "sim", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, COLUMNS="300"),
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError("the simulator did not start")


def suite_text(base_url: str, *, trials: int, concurrency: int) -> str:
    """One cell: refunds x ReAct x sim/budget on the external simulator, priced."""
    return f"""name = "ray-scaling"
seed = 7
trials = {trials}
concurrency = {concurrency}
workflows = ["refunds"]
agents = ["react"]
[outcome_pricing]
price_usd = 0.99
[[models]]
name = "sim/budget"
provider = "sim"
base_url = "{base_url}"
timeout_s = 60
[models.price]
input_per_mtok = 0.20
cache_read_per_mtok = 0.02
output_per_mtok = 1.20
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLK_TCK


@dataclass
class Measurement:
    """One timed run."""

    label: str
    trials: int
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)
    lost: int = 0
    """Trial attempts lost with a worker (re-run); 0 in a healthy run."""
    profiles: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Trials per second."""
        return self.trials / self.seconds if self.seconds else 0.0


def _plan(text: str, path: Path, limit: int) -> RunPlan:
    return plan_suite(parse_suite(text, path), limit=limit)


class _Profiler:
    """py-spy sampling of some processes for the duration of a run (optional)."""

    def __init__(self, pids: dict[str, int], out: Path) -> None:
        self.procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        for name, pid in pids.items():
            path = out / f"{name}.txt"
            # only samples holding the GIL (CPU actually used by Python), full paths so the
            # innermost frame can be named by package; nonblocking to perturb less
            cmd = [spy, "record", "-p", str(pid), "-r", "100", "-f", "raw", "-o", str(path),
                   "--gil", "--nonblocking", "--full-filenames"]  # fmt: skip
            self.procs[name] = (
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                path,
            )
        time.sleep(0.5)  # let py-spy attach

    def stop(self, top: int = 8) -> dict[str, list[tuple[str, float]]]:
        """Stop sampling; the `top` buckets of each process by share of samples."""
        result: dict[str, list[tuple[str, float]]] = {}
        for name, (proc, path) in self.procs.items():
            proc.send_signal(2)  # SIGINT: py-spy writes its output and exits
            proc.wait(timeout=60)
            result[name] = _top_buckets(path, top)
        return result


def _bucket(frame: str) -> str:
    """A profile frame's package: 'langgraph', 'openai', 'roibench.sim', 'asyncio', ..."""
    m = re.search(r"\(([^)]*)\)", frame)
    where = re.sub(r":\d+$", "", m.group(1) if m else frame)
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in where:
            rest = where.split(marker, 1)[1]
            parts = rest.split("/")
            return parts[0].removesuffix(".py") if len(parts) > 1 else rest.split(".py")[0]
    if "/roibench/" in where:
        rest = where.split("/roibench/", 1)[1].split("/")
        return "roibench." + rest[0].removesuffix(".py")
    return where.split(":")[0].rsplit("/", 1)[-1]


def _top_buckets(path: Path, top: int) -> list[tuple[str, float]]:
    """Self time by package (the innermost Python frame of each sample holding the GIL), as
    shares of all such samples."""
    counts: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return []
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        leaf = frames[-1] if frames else "?"
        counts[_bucket(leaf)] += int(n)
        total += int(n)
    return [(name, n / total) for name, n in counts.most_common(top)] if total else []


def run_once(
    text: str,
    path: Path,
    *,
    limit: int,
    workers: int | None,
    sim_pid: int,
    tmp: Path,
    profile: bool,
) -> Measurement:
    """One run, local (`workers` None) or on Ray; the plan is built fresh each time."""
    plan = _plan(text, path, limit)
    journal = Journal(tmp / f"journal-{workers or 'local'}-{time.monotonic_ns()}.jsonl", header={})
    pids = {"driver": os.getpid(), "simulator": sim_pid}
    executor: RayExecutor | None = None
    if workers is not None:
        executor = RayExecutor(plan, {"limit": limit}, journal=journal, workers=workers)
        executor.start()  # workers up and plans rebuilt: not part of the timed run
        for i, w in enumerate(executor.workers):
            pids[f"worker{i}"] = ray.get(w.pid.remote())
    profiler = _Profiler(pids, tmp) if profile else None
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy0 = machine_busy_seconds()
    t0 = time.perf_counter()
    if executor is not None:
        result = executor.run()
    else:
        import asyncio

        result = asyncio.run(Runner(plan, journal=journal).run())
    seconds = time.perf_counter() - t0
    busy = machine_busy_seconds() - busy0
    used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    journal.close()
    n = sum(len(v) for v in result.trials.values())
    cpu = {
        "driver": used.pop("driver"),
        "simulator": used.pop("simulator"),
        "workers": sum(used.values()),
    }
    cpu["other (Ray system, rest of machine)"] = max(0.0, busy - sum(cpu.values()))
    label = "local (asyncio)" if workers is None else f"ray x{workers}"
    m = Measurement(label, n, seconds, cpu, lost=executor.lost_attempts if executor else 0)
    if profiler is not None:
        m.profiles = profiler.stop()
    return m


def main(argv: list[str] | None = None) -> dict[str, Measurement]:
    """Run the benchmark and print it; returns the measurements by label."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--limit", type=int, default=75, help="tasks (refunds has 75)")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--address", default=None, help="Ray cluster ('auto'); default: a local one")
    ap.add_argument("--no-local", action="store_true", help="skip the local reference run")
    ap.add_argument("--profile", action="store_true", help="py-spy every process (needs py-spy)")
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    sim, base_url = start_sim()
    started = connect(args.address, num_cpus=cores)
    results: dict[str, Measurement] = {}
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            path = tmp / "ray_scaling.toml"
            text = suite_text(base_url, trials=args.trials, concurrency=args.concurrency)
            path.write_text(text)
            common = {"limit": args.limit, "sim_pid": sim.pid, "tmp": tmp, "profile": args.profile}
            runs: list[int | None] = [] if args.no_local else [None]
            for workers in [*runs, *args.workers]:
                m = run_once(text, path, workers=workers, **common)  # type: ignore[arg-type]
                results[m.label] = m
                cpu = ", ".join(f"{k} {v / m.seconds:.2f}" for k, v in m.cpu.items())
                print(
                    f"{m.label:>16}: {m.trials} trials in {m.seconds:5.2f} s = "
                    f"{m.rate:6.1f} trials/s | CPU cores busy: {cpu}"
                    + (f" | {m.lost} attempts lost with a worker" if m.lost else ""),
                    flush=True,
                )
                for proc, buckets in m.profiles.items():
                    shares = ", ".join(f"{b} {s:.0%}" for b, s in buckets)
                    print(f"{'':>18}py-spy {proc}: {shares}", flush=True)
    finally:
        sim.kill()
        sim.wait()
        if started:
            ray.shutdown()
    one, two = results.get("ray x1"), results.get("ray x2")
    if one and two and one.rate:
        print(
            f"scaling 1 -> 2 workers: {two.rate / one.rate:.2f}x (target >= 1.4x) on {cores} cores"
        )
    return results


if __name__ == "__main__":
    main()
