"""roibench's own overhead on the smallest tool-using task, as whole processes, against a bare
AsyncOpenAI loop making the same requests.

    python benchmarks/minimal.py [--tasks 1000] [--concurrency 32] [--latencies 0,0.2]
                                 [--rounds 5] [--one-task-rounds 5] [--quick]

The task (`minimal_workflow.py`): the requester asks for an order's status, the model looks it
up with one tool call and answers — two requests per task, a one-line policy, a one-sentence
prompt. The simulator (`roibench sim --latency L --dataset ...`) runs in its own process and
plays each task's reference actions. Every measurement is a process of its own, timed from
outside from interpreter start to exit, with its CPU (user + system, helper processes
included) from the kernel:

  bare       `minimal_bare.py`: openai.AsyncOpenAI and a loop, nothing else;
  roibench   `roibench run` (the LangGraph agent, grading, pricing, the fsynced journal,
             tallies, the progress bar, the summary, and MLflow: runs, tables, plots, and a
             trace per trial written by the trace helper), into an MLflow store that exists
             (a copy of an empty one: schema creation is a one-off, not per run);
  no-trace   the same with `--no-trace`;
  no-mlflow  (1-task runs only) the same with `--no-mlflow`: the fixed cost less MLflow's;
  langgraph  (1-task runs only) the bare loop that first imports `langgraph.graph` and uses
             nothing of it: the floor of any harness whose agents are LangGraph graphs.

The simulator's request counter (`GET /stats`) proves each made the same requests. Kinds are
interleaved in rounds (the order alternates), the ratios are taken within each round, and the
medians are printed, because this machine's speed drifts over minutes. Besides the whole
process, the trial phase alone: the bare loop's own loop time against `roibench run`'s
'trials' phase (`SuiteOutcome.timings_s`, printed by the command). Then a 1-task run of each
kind (the fixed cost), the CPU per 1,000 trials, and the CPU per trace.

Exit 1 when a target is missed (at --concurrency 32): whole process >= 0.8x bare at 200 ms and
>= 0.6x at 0 ms with traces, >= 0.9x / >= 0.7x with --no-trace; a 1-task run <= 2x bare;
trace CPU <= 2 ms per trace.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from minimal_workflow import POLICY, MinimalEnv, task_line, write_dataset  # noqa: E402
from throughput import start_sim  # noqa: E402

MODEL = "sim/frontier"
KINDS = ("bare", "roibench", "no-trace")
ONE_TASK_KINDS = (*KINDS, "no-mlflow", "langgraph")
"""The 1-task runs add `--no-mlflow` (how much of the fixed cost is MLflow's) and the bare loop
with LangGraph imported (how much of it any LangGraph harness pays before its first request)."""
BARE_KINDS = ("bare", "langgraph")
"""The kinds that run `minimal_bare.py`, not roibench."""
TARGETS = {  # whole process, rate / bare rate, at concurrency 32
    ("roibench", 0.2): 0.8,
    ("roibench", 0.0): 0.6,
    ("no-trace", 0.2): 0.9,
    ("no-trace", 0.0): 0.7,
}
ONE_TASK_TARGET = 2.0
TRACE_CPU_TARGET_MS = 2.0
_TIME_LINE = re.compile(
    r"time: prepare ([\d.]+) s, trials ([\d.]+) s, summary ([\d.]+) s, logging ([\d.]+) s"
)
"""The phases `roibench run` prints (`SuiteOutcome.timings_s`)."""


@dataclass
class Measured:
    """One process: wall seconds, CPU seconds, requests the simulator served for it, and its
    trial phase (the bare loop's loop, roibench's 'trials' phase)."""

    wall_s: float
    cpu_s: float
    requests: int
    phase_s: float
    summary_s: float = 0.0
    logging_s: float = 0.0
    prepare_s: float = 0.0

    @property
    def without_summary_s(self) -> float:
        """The whole process less its summary phase (the statistics)."""
        return self.wall_s - self.summary_s


def served(url: str) -> int:
    """Chat requests the simulator has served so far."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as resp:
        return int(json.loads(resp.read())["requests"])


def child_cpu_s() -> float:
    """CPU of this process's finished children (and theirs), user + system."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Bench:
    """The files of one benchmark: datasets, suites, the bare loop's config, an empty store."""

    def __init__(self, tmp: Path, tasks: int, concurrency: int) -> None:
        self.tmp = tmp
        self.concurrency = concurrency
        self.datasets = {n: write_dataset(tmp / f"tasks-{n}.jsonl", n) for n in sorted({tasks, 1})}
        self.store = tmp / "empty-mlflow.db"
        # an empty store with its schema, copied for every run: a store exists in normal use
        subprocess.run(
            [sys.executable, "-c",
             "import sys, mlflow; mlflow.MlflowClient(sys.argv[1]).search_experiments()",
             f"sqlite:///{self.store}"],
            check=True, capture_output=True,
        )  # fmt: skip
        self.count = 0

    def suite(self, url: str, tasks: int) -> Path:
        path = self.tmp / f"minimal-{tasks}-{abs(hash(url))}.toml"
        workflow = HERE / "minimal_workflow.py"
        path.write_text(
            f'name = "bench-minimal"\ntrials = 1\nconcurrency = {self.concurrency}\n'
            f'agents = ["react"]\n[[workflows]]\nname = "{workflow}:MinimalWorkflow"\n'
            f'dataset = "{self.datasets[tasks]}"\n'
            f"[outcome_pricing]\nprice_usd = 0.10\n"
            f'[[models]]\nname = "{MODEL}"\nprovider = "local"\nmodel = "{MODEL}"\n'
            f'base_url = "{url}"\nconcurrency = {self.concurrency}\n'
            f"[models.price]\ninput_per_mtok = 0.66\noutput_per_mtok = 1.98\n"
        )
        return path

    def bare_config(self, url: str, tasks: int, *, import_langgraph: bool = False) -> Path:
        from roibench.run.runner import trial_seed

        path = self.tmp / f"bare-{tasks}{'-langgraph' if import_langgraph else ''}.json"
        ids = [task_line(i)["id"] for i in range(1, tasks + 1)]
        path.write_text(json.dumps({
            "url": url, "model": MODEL, "policy": POLICY, "tools": MinimalEnv.tool_schemas(),
            "dataset": str(self.datasets[tasks]), "concurrency": self.concurrency,
            # the seeds roibench sends (suite seed 0, trial 0): the simulator then plays the
            # same model behaviour for both, so both make the same requests
            "seeds": {task_id: trial_seed(0, task_id, 0) for task_id in ids},
            "import_langgraph": import_langgraph,
        }))  # fmt: skip
        return path

    def measure(self, kind: str, url: str, tasks: int) -> Measured:
        """Run one process of `kind` over `tasks` tasks and measure it."""
        self.count += 1
        work = self.tmp / f"run-{self.count}"
        work.mkdir()
        env = dict(os.environ)
        if kind in BARE_KINDS:
            config = self.bare_config(url, tasks, import_langgraph=kind == "langgraph")
            argv = [sys.executable, str(HERE / "minimal_bare.py"), str(config)]
        else:
            shutil.copy(self.store, work / "mlflow.db")
            env["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
            argv = [sys.executable, "-m", "roibench", "run", str(self.suite(url, tasks)),
                    "--out", str(work / "runs")]  # fmt: skip
            if kind == "no-trace":
                argv.append("--no-trace")
            elif kind == "no-mlflow":
                argv.append("--no-mlflow")
        before, cpu0 = served(url), child_cpu_s()
        t0 = time.perf_counter()
        out = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        cpu = child_cpu_s() - cpu0
        requests = served(url) - before
        if out.returncode != 0:
            raise RuntimeError(f"{kind} failed ({out.returncode}): {out.stderr[-2000:]}")
        summary = logging = prepare = 0.0
        if kind in BARE_KINDS:
            phase = float(json.loads(out.stdout.splitlines()[-1])["loop_s"])
        else:
            if kind != "no-mlflow" and "MLflow: run " not in out.stdout:
                raise RuntimeError(f"{kind}: MLflow not logged: {out.stderr[-2000:]}")
            found = _TIME_LINE.search(out.stderr)
            if found is None:
                raise RuntimeError(f"{kind}: no timings printed: {out.stderr[-2000:]}")
            prepare, phase = float(found.group(1)), float(found.group(2))
            summary, logging = float(found.group(3)), float(found.group(4))
        shutil.rmtree(work, ignore_errors=True)
        return Measured(wall, cpu, requests, phase, summary, logging, prepare)


def rounds(
    bench: Bench, url: str, tasks: int, n: int, kinds: tuple[str, ...] = KINDS
) -> dict[str, list[Measured]]:
    """`n` interleaved rounds of every kind (the order alternates between rounds)."""
    got: dict[str, list[Measured]] = {k: [] for k in kinds}
    for r in range(n):
        for kind in kinds if r % 2 == 0 else tuple(reversed(kinds)):
            got[kind].append(bench.measure(kind, url, tasks))
    return got


def paired(got: dict[str, list[Measured]], kind: str, key: str) -> float:
    """Median over rounds of bare's time / kind's time (= kind's rate / bare's rate)."""
    return statistics.median(
        getattr(b, key) / getattr(m, key) for b, m in zip(got["bare"], got[kind], strict=True)
    )


def med(values: list[Measured], key: str) -> float:
    return statistics.median(getattr(m, key) for m in values)


def trace_cpu_ms(tmp: Path, store: Path, suite: Path) -> tuple[float, int]:
    """CPU per trace of the trace helper's work, measured directly: the traces of one run's
    journal planned and written in the helper's batches (`write_spans`) to a copy of the
    store, timed with this process's CPU clock. Returns (ms per trace, traces)."""
    warnings.filterwarnings("ignore")
    work = tmp / "trace-cpu"
    work.mkdir()
    shutil.copy(store, work / "mlflow.db")
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}")
    subprocess.run(
        [sys.executable, "-m", "roibench", "run", str(suite), "--out", str(work / "runs"),
         "--no-trace"],
        cwd=work, env=env, check=True, capture_output=True,
    )  # fmt: skip
    journal = next((work / "runs").rglob("journal.jsonl"))
    os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
    from mlflow.tracking import MlflowClient

    from roibench.journal.store import iter_trials
    from roibench.sinks.mlflow.trace_stream import BATCH_TRIALS
    from roibench.sinks.mlflow.traces import TraceContext, plan_trace, write_spans

    client = MlflowClient()
    experiment = client.create_experiment("trace-cpu")
    ctx = TraceContext(experiment, "", "minimal/react/sim", MODEL, "local", False)
    trials = list(iter_trials(journal))
    write_spans([plan_trace(trials[0], ctx)], experiment, client)  # warm the store's caches
    t0 = time.process_time()
    for i in range(0, len(trials), BATCH_TRIALS):
        write_spans([plan_trace(t, ctx) for t in trials[i : i + BATCH_TRIALS]], experiment, client)
    return (time.process_time() - t0) * 1000 / len(trials), len(trials)


def main() -> int:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per run (one trial each)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latencies", default="0,0.2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--one-task-rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny run to check it works")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.concurrency, args.latencies = 20, 8, "0"
        args.rounds, args.one_task_rounds = 1, 1
    latencies = [float(x) for x in args.latencies.split(",")]
    n = args.tasks
    missed: list[str] = []
    print(f"minimal task (2 requests), {n} tasks, concurrency {args.concurrency}, "
          f"{args.rounds} interleaved rounds; rate = tasks / whole-process seconds")  # fmt: skip
    try:
        import inspect_ai  # noqa: F401  # pyright: ignore[reportMissingImports]

        print("note: inspect_ai is installed, but this benchmark has no inspect-ai task yet")
    except ImportError:
        print("note: inspect_ai is not installed: no inspect-ai column")
    with tempfile.TemporaryDirectory() as tmp_name:
        bench = Bench(Path(tmp_name), n, args.concurrency)
        one_task: dict[str, list[Measured]] = {}
        zero: dict[str, list[Measured]] = {}
        tcpu: tuple[float, int] | None = None
        unsummed: list[str] = []
        print(f"\n{'latency':>7} {'bare/s':>7} {'roibench/s':>10} {'no-trace/s':>10} "
              f"{'rb/bare':>7} {'nt/bare':>7} {'trials rb':>9} {'trials nt':>9} "
              f"{'prepare':>7} {'summary':>7} {'logging':>7}  requests bare/rb/nt")  # fmt: skip
        for latency in latencies:
            proc, url = start_sim(latency, bench.datasets[n])
            try:
                for kind in KINDS:  # warm the page cache and the simulator; not counted
                    bench.measure(kind, url, 1)
                got = rounds(bench, url, n, args.rounds)
                if latency == 0:
                    zero = got
                    one_task = rounds(bench, url, 1, args.one_task_rounds, ONE_TASK_KINDS)
                    tcpu = trace_cpu_ms(bench.tmp, bench.store, bench.suite(url, n))
            finally:
                proc.terminate()
                proc.wait()
            requests = {k: sorted({m.requests for m in v}) for k, v in got.items()}
            rb, nt = paired(got, "roibench", "wall_s"), paired(got, "no-trace", "wall_s")
            row = f"{latency:>7.2f} {n / med(got['bare'], 'wall_s'):>7.1f} "
            row += f"{n / med(got['roibench'], 'wall_s'):>10.1f} "
            row += f"{n / med(got['no-trace'], 'wall_s'):>10.1f} {rb:>7.2f} {nt:>7.2f} "
            row += f"{paired(got, 'roibench', 'phase_s'):>9.2f} "
            row += f"{paired(got, 'no-trace', 'phase_s'):>9.2f} "
            row += f"{med(got['roibench'], 'prepare_s'):>6.2f}s "
            row += f"{med(got['roibench'], 'summary_s'):>6.2f}s "
            row += f"{med(got['roibench'], 'logging_s'):>6.2f}s  "
            row += " ".join("/".join(map(str, requests[k])) for k in KINDS)
            print(row)
            unsummed.append(
                f"{latency:>7.2f} {paired(got, 'roibench', 'without_summary_s'):>7.2f} "
                f"{paired(got, 'no-trace', 'without_summary_s'):>7.2f}"
            )
            if len({r for v in requests.values() for r in v}) != 1:
                missed.append(f"the kinds made different requests at {latency:g} s")
            for kind, ratio in (("roibench", rb), ("no-trace", nt)):
                target = TARGETS.get((kind, latency))
                if target is not None and args.concurrency == 32 and ratio < target:
                    missed.append(f"{kind}/bare at {latency:g} s: {ratio:.2f} < {target}")
        print(
            "rb/bare, nt/bare: whole-process rate over bare's (median of the rounds' ratios); "
            "trials: the trial phase alone, roibench's 'trials' phase against the bare loop's "
            "own loop; prepare, summary, logging: roibench's phases (median, traces on)"
        )
        print("\nthe same without roibench's summary phase (the statistics):")
        print(f"{'latency':>7} {'rb/bare':>7} {'nt/bare':>7}")
        for text in unsummed:
            print(text)
        if one_task:
            bare1 = med(one_task["bare"], "wall_s")
            line = f"\n1-task run, whole process, 0 ms (median of {args.one_task_rounds}): "
            line += f"bare {bare1:.2f} s"
            for kind in ONE_TASK_KINDS[1:]:
                ratio = 1 / paired(one_task, kind, "wall_s")
                line += f", {kind} {med(one_task[kind], 'wall_s'):.2f} s ({ratio:.2f}x bare)"
                if kind == "roibench" and ratio > ONE_TASK_TARGET:
                    missed.append(f"1-task run: {ratio:.2f}x bare > {ONE_TASK_TARGET:g}x")
            print(line + f"; target <= {ONE_TASK_TARGET:g}x")
            if len({m.requests for v in one_task.values() for m in v}) != 1:
                missed.append("the 1-task kinds made different requests")
            floor = 1 / paired(one_task, "langgraph", "wall_s")
            floor_s = med(one_task["langgraph"], "wall_s")
            over = {k: med(one_task[k], "wall_s") / floor_s for k in ("roibench", "no-mlflow")}
            print(
                f"  the floor of any LangGraph harness (bare + `import langgraph.graph`): "
                f"{floor:.2f}x bare; roibench {over['roibench']:.2f}x that floor, "
                f"no-mlflow {over['no-mlflow']:.2f}x"
            )
            print("\nCPU, user + system, helper processes included (median), at 0 ms:")
            for text in cpu_table(zero, one_task, n):
                print("  " + text)
        if tcpu is not None:
            ms, traced = tcpu
            print(f"\ntrace CPU: {ms:.2f} ms per trace ({traced} traces planned and written in "
                  f"the helper's batches; target <= {TRACE_CPU_TARGET_MS:g} ms)")  # fmt: skip
            if ms > TRACE_CPU_TARGET_MS:
                missed.append(f"trace CPU {ms:.2f} ms > {TRACE_CPU_TARGET_MS:g} ms")
    print("\ntargets: " + ("met" if not missed else "MISSED — " + "; ".join(missed)))
    if args.concurrency != 32:
        print("(the ratio targets apply at concurrency 32 only)")
    return 0 if not missed or args.quick else 1


def cpu_table(got: dict[str, list[Measured]], one: dict[str, list[Measured]], n: int) -> list[str]:
    """CPU per process at n tasks and at 1 task, per 1,000 trials of the n-task run, and per
    1,000 trials beyond the fixed cost (what the 1-task run costs)."""
    lines = [f"{'':>9} {f'{n} tasks':>10} {'1 task':>8} {'per 1,000 trials':>17} "
             f"{'beyond the fixed cost':>22}"]  # fmt: skip
    for kind in KINDS:
        total, fixed = med(got[kind], "cpu_s"), med(one[kind], "cpu_s")
        per_k = total * 1000 / n
        marginal = (total - fixed) * 1000 / max(1, n - 1)
        lines.append(f"{kind:>9} {total:>9.2f}s {fixed:>7.2f}s {per_k:>16.2f}s {marginal:>21.2f}s")
    return lines


if __name__ == "__main__":
    sys.exit(main())
