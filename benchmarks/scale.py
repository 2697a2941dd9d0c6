"""10,000 short trials in one suite: peak memory, its growth over the run, and MLflow's share.

    python benchmarks/scale.py [--trials-total 10000] [--concurrency 64] [--trace-sample S]

The pipeline is `roibench run`'s: trials go to the journal and into per-cell running tallies
(never held in memory), the summary comes from the tallies, MLflow's tables from the journal
(read by the MLflow helper as it grows). The simulator runs in its own process with zero
latency, so the trials are as short as they get and the client's own overhead dominates. The
RSS of this process is sampled every 0.2 s from /proc, and so is the MLflow helper's (the
process that traces, tabulates and logs the run) with its plotter; it prints the peaks, the
RSS at each quarter of the run, the growth from the first quarter to the end, and the share of
wall time spent logging to MLflow. Exit 1 when peak RSS > 1 GiB (this process alone, or with
its helpers), RSS grows more than 10% from 25% to 100% of the trials (not flat), or logging
takes more than 5% of the wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import MODEL, start_sim

GIB = 1024**3


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (this one by default); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(pid: int, skip: set[int]) -> list[int]:
    """The process's children and theirs (the MLflow helper and its plotter), less `skip`."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                children = [int(c) for c in f.read().split()]
        except OSError:
            continue
        for child in children:
            if child not in skip:
                found += [child, *descendants(child, skip)]
    return found


class Sampler(threading.Thread):
    """Samples RSS in the background, tagged with progress (trials done)."""

    def __init__(self, skip: set[int]) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[int, int]] = []
        self.helpers: list[int] = []
        """RSS of this process's helper processes (summed; pages they share counted twice)."""
        self.skip = skip
        self.done = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.2):
            self.samples.append((self.done, rss_bytes()))
            helpers = descendants(os.getpid(), self.skip)
            self.helpers.append(sum(rss_bytes(p) for p in helpers))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def main() -> int:
    """Run the scale test and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trials-total", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--trace-sample", type=float, default=None,
                        help="fraction of trials traced (default: the suite default)")  # fmt: skip
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow

    from roibench.run.orchestrator import RunRequest, SilentReporter, run_suite

    tasks_per_trial = 60  # the refunds dataset
    trials = max(1, -(-args.trials_total // tasks_per_trial))  # at least the total asked for
    proc, url = start_sim(0.0)
    sampler = Sampler(skip={proc.pid})  # the simulator is a child too, not the run's

    class Count(SilentReporter):
        """Counts finished trials for the sampler; notes where the trials ended."""

        run_samples = 0

        def trial(self, record: object, spend_usd: object) -> None:
            sampler.done += 1

        def finished(self) -> None:
            Count.run_samples = len(sampler.samples)

    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            suite = tmp / "scale.toml"
            suite.write_text(
                f'name = "bench-scale"\ntrials = {trials}\nconcurrency = {args.concurrency}\n'
                f'workflows = ["refunds"]\nagents = ["react"]\n'
                f"[outcome_pricing]\nprice_usd = 0.99\n"
                f'[[models]]\nname = "{MODEL}"\nprovider = "local"\nmodel = "{MODEL}"\n'
                f'base_url = "{url}"\n[models.price]\ninput_per_mtok = 0.66\n'
                f"cache_read_per_mtok = 0.022\noutput_per_mtok = 1.98\n"
            )
            mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
            mlflow.MlflowClient().search_experiments()
            start_rss = rss_bytes()
            sampler.start()
            # as `roibench run`: the orchestrator, traces written by a helper during the run
            request = RunRequest(
                suite=suite, out=tmp / "runs", preflight=False, trace_sample=args.trace_sample
            )
            outcome = run_suite(request, Count())
            run_samples = Count.run_samples
            sampler.stop()
            journal_mb = outcome.journal_path.stat().st_size / 1e6
    finally:
        proc.terminate()
        proc.wait()
    took = outcome.timings_s
    t0, t2 = 0.0, sum(took.values())
    t1 = t2 - took["logging"]
    total = outcome.spec.total_trials
    peak = max(r for _, r in sampler.samples) if sampler.samples else rss_bytes()
    print(f"trials: {total}  wall: {t2 - t0:.1f} s  ({total / (t1 - t0):.1f} trials/s)  "
          f"journal: {journal_mb:.1f} MB")  # fmt: skip
    during_run = [r for _, r in sampler.samples[:run_samples]] or [rss_bytes()]
    logging = [r for _, r in sampler.samples[run_samples:]] or during_run[-1:]
    print(f"RSS at start {start_rss / 2**20:.0f} MiB; peak {peak / 2**20:.0f} MiB "
          f"(while trials ran {max(during_run) / 2**20:.0f} MiB, "
          f"while logging {max(logging) / 2**20:.0f} MiB)")  # fmt: skip
    helpers = max(sampler.helpers, default=0)
    pairs = zip(sampler.samples, sampler.helpers, strict=True)
    tree = max((r + h for (_, r), h in pairs), default=0)
    print(f"MLflow helper (and its plotter): peak {helpers / 2**20:.0f} MiB; this process and "
          f"its helpers together: peak {tree / 2**20:.0f} MiB (RSS summed)")  # fmt: skip
    quarters: dict[float, int] = {}
    for q in (0.25, 0.5, 0.75, 1.0):
        at = [r for d, r in sampler.samples[:run_samples] if d >= q * total]
        if at:
            quarters[q] = at[0]
            print(f"  RSS after {int(q * 100):>3}% of trials: {at[0] / 2**20:.0f} MiB")
    first, last = quarters.get(0.25, during_run[0]), quarters.get(1.0, during_run[-1])
    growth = (last - first) / first
    per_k = (last - first) / max(1, 0.75 * total) * 1000
    print(
        f"growth from 25% to 100% of trials: {growth:+.1%} ({per_k / 1024:+.0f} KiB per "
        "1,000 trials; target: flat, within 10%)"
    )
    share = (t2 - t1) / (t2 - t0)
    print(f"MLflow logging: {t2 - t1:.1f} s = {share:.1%} of wall time (target <= 5%)")
    ok = peak <= GIB and tree <= GIB and growth <= 0.10 and share <= 0.05
    print("targets (peak RSS <= 1 GiB, with the helpers too; flat; logging <= 5%):",
          "met" if ok else "MISSED")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
