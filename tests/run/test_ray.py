"""`--executor ray` on a real local Ray cluster (2 CPUs, loopback) started once for the module,
against the real simulator: same results as the local executor, a killed worker loses and
double-bills nothing, the spend cap holds across workers, resume and the cache work."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'roibench[ray]'")

from roibench.config.suite import load_suite  # noqa: E402
from roibench.core.records import TrialRecord  # noqa: E402
from roibench.journal.store import Journal, TrialKey, read_journal, trial_key  # noqa: E402
from roibench.results.summary import summarize, tally_trials  # noqa: E402
from roibench.run.plan import spec_for  # noqa: E402
from roibench.run.ray_executor import RayExecutor  # noqa: E402
from roibench.run.runner import Runner, RunOptions, RunPlan, plan_suite  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "evals" / "quickstart.toml"
LIMIT = 4  # quickstart: 3 models x 4 tasks x 3 trials = 36 trials
VARIABLE = {"latency_p50_s", "latency_p95_s"}  # wall-clock figures: never reproducible
LOST = {"lost_calls", "lost_spend_usd"}  # attempts lost with a killed worker (or a crash)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster with 2 CPUs on loopback, no dashboard; yields its GCS address."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def quickstart_plan(limit: int = LIMIT, concurrency: int | None = None) -> RunPlan:
    return plan_suite(load_suite(QUICKSTART), limit=limit, concurrency=concurrency)


@pytest.fixture(scope="module")
def reference() -> dict[TrialKey, TrialRecord]:
    """The local (asyncio) executor's quickstart run, by trial key."""
    result = asyncio.run(Runner(quickstart_plan()).run())
    records = [t for ts in result.trials.values() for t in ts]
    return {trial_key(t): t for t in records}


def fingerprint(t: TrialRecord) -> tuple[Any, ...]:
    """Everything about a trial that must not depend on where it ran, nor on whether its calls
    came from the response cache (a cached call reports the original cost)."""
    return (
        t.outcome.status,
        t.outcome.reason,
        str(t.outcome.loss_usd),
        t.cost_usd,
        t.usage,
        t.seed,
        t.steps,
        t.error_class,
        [(c.usage, c.cost_usd, c.error, c.attempt) for c in t.calls],
        [(c.name, c.args, c.result) for c in t.tool_log],
        t.reply,
    )


def metrics(
    plan: RunPlan, trials: list[TrialRecord], ignore: frozenset[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    """Every cell's summary metrics except wall-clock ones and the spend of attempts lost in a
    crash (checked apart), from trials in key order (the bootstrap groups tasks in the order
    they appear)."""
    ordered = sorted(trials, key=trial_key)
    summaries = summarize(spec_for(plan), tally_trials(spec_for(plan), ordered))
    return {
        label: {k: v for k, v in s.metrics.items() if k not in VARIABLE | LOST | ignore}
        for label, s in summaries.items()
    }


def assert_same_as_reference(
    trials: list[TrialRecord],
    reference: dict[TrialKey, TrialRecord],
    plan: RunPlan,
    ignore: frozenset[str] = frozenset(),
) -> None:
    keys = [trial_key(t) for t in trials]
    assert len(keys) == len(set(keys)), "a trial was journaled twice"
    assert set(keys) == set(reference)
    for t in trials:
        ref = reference[trial_key(t)]
        assert fingerprint(t) == fingerprint(ref), (trial_key(t), t.outcome.reason, t.error_class)
    got, want = metrics(plan, trials, ignore), metrics(plan, list(reference.values()), ignore)
    diff = {
        (label, k): (v, want[label].get(k))
        for label, m in got.items()
        for k, v in m.items()
        if v != want[label].get(k)
    }
    assert got == want, diff


def test_core_never_imports_ray() -> None:
    code = (
        "import sys, roibench.cli.app, roibench.run.runner, roibench.run.orchestrator\n"
        "import roibench.run.executors\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_executor_ray_without_ray_exits_2_naming_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys\nsys.modules['ray'] = None  # as if Ray were not installed\n"
        "from roibench.cli.app import main\n"
        f"sys.argv = ['roibench', 'run', {str(QUICKSTART)!r}, '--executor', 'ray', "
        "'--out', 'runs', '--no-mlflow']\nmain()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "pip install 'roibench[ray]'" in out.stderr
    assert not (tmp_path / "runs").exists(), "nothing may be written before the error"


def test_quickstart_cli_on_ray_matches_local(
    cluster: str, reference: dict[TrialKey, TrialRecord], tmp_path: Path
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "roibench", "run", str(QUICKSTART), "--limit", str(LIMIT),
         "--executor", "ray", "--address", cluster, "--workers", "2",
         "--out", "runs", "--no-mlflow"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    journals = list((tmp_path / "runs").rglob("journal.jsonl"))
    assert len(journals) == 1
    contents = read_journal(journals[0])
    assert_same_as_reference(contents.trials, reference, quickstart_plan())
    # the driver wrote the crash trail too: one call line per call of every trial
    calls = sum(len(v) for v in contents.calls.values())
    assert calls == sum(len(t.calls) for t in contents.trials) > 0
    assert "refunds/react/sim/frontier" in out.stdout


def test_verticals_on_ray_match_local(cluster: str) -> None:
    suite = load_suite(REPO / "evals" / "verticals.toml")
    plan = plan_suite(suite, limit=1, trials=1)
    assert len(plan.cells) == 45
    local = asyncio.run(Runner(plan).run())
    ref = {trial_key(t): t for ts in local.trials.values() for t in ts}
    on_ray = RayExecutor(plan, {"limit": 1, "trials": 1}, workers=2).run()
    trials = [t for ts in on_ray.trials.values() for t in ts]
    assert_same_as_reference(trials, ref, plan)


def test_killed_worker_loses_no_trial_and_bills_none_twice(
    cluster: str, reference: dict[TrialKey, TrialRecord], tmp_path: Path
) -> None:
    plan = quickstart_plan(concurrency=8)
    journal = Journal(tmp_path / "journal.jsonl", header={"suite": "quickstart"})
    executor = RayExecutor(plan, {"limit": LIMIT, "concurrency": 8}, journal=journal, workers=2)
    executor.start()
    victim = executor.workers[0]
    pid = ray.get(victim.pid.remote())
    finished: list[TrialRecord] = []

    def on_trial(record: TrialRecord) -> None:
        finished.append(record)
        if len(finished) == 5:
            os.kill(pid, signal.SIGKILL)

    executor.progress = on_trial
    result = executor.run()
    journal.close()
    assert executor.lost_attempts >= 1, "the kill hit no trial in flight"
    contents = read_journal(tmp_path / "journal.jsonl")
    assert_same_as_reference(contents.trials, reference, plan)
    assert len(finished) == len(reference)
    # the lost attempts' calls were streamed before the kill and attached to the re-runs
    rerun = [t for t in contents.trials if t.lost_calls]
    assert rerun, "no re-run trial carries its lost attempt's calls"
    for t in rerun:
        assert len(contents.calls[trial_key(t)]) == len(t.calls) + len(t.lost_calls)
    # ...and are reported as lost spend, once
    tallies = tally_trials(spec_for(plan), contents.trials)
    reported = sum(
        s.metrics.get("lost_calls") or 0 for s in summarize(spec_for(plan), tallies).values()
    )
    assert reported == sum(len(t.lost_calls) for t in contents.trials)
    assert result.spent_usd >= sum(
        (c.cost_usd or Decimal(0) for t in contents.trials for c in t.calls), Decimal(0)
    )


def test_spend_cap_holds_across_workers(
    cluster: str, reference: dict[TrialKey, TrialRecord]
) -> None:
    full = sum((t.cost_usd or Decimal(0) for t in reference.values()), Decimal(0))
    cap = (full * Decimal("0.4")).quantize(Decimal("0.000001"))
    plan = quickstart_plan()
    executor = RayExecutor(plan, {"limit": LIMIT}, options=RunOptions(max_spend_usd=cap), workers=2)
    result = executor.run()
    trials = [t for ts in result.trials.values() for t in ts]
    spent = sum((t.cost_usd or Decimal(0) for t in trials), Decimal(0))
    assert result.budget_stopped
    assert result.skipped == len(reference) - len(trials) > 0
    assert 0 < spent <= cap, (spent, cap)
    assert result.spent_usd == spent
    assert all(n > 0 for n in executor.sim_requests_by_worker), "one worker ran everything"
    for t in trials:
        assert fingerprint(t) == fingerprint(reference[trial_key(t)])


def test_resume_and_cache_on_ray(
    cluster: str, reference: dict[TrialKey, TrialRecord], tmp_path: Path
) -> None:
    plan = quickstart_plan()
    keys = sorted(reference)
    done = set(keys[::2])
    lost_key = keys[1]
    lost_call = reference[lost_key].calls[0]
    cache = tmp_path / "cache.sqlite"
    options = RunOptions(done=done, lost_calls={lost_key: [lost_call]})
    first = RayExecutor(plan, {"limit": LIMIT}, options=options, cache_path=cache, workers=2).run()
    ran = {trial_key(t): t for ts in first.trials.values() for t in ts}
    assert set(ran) == set(keys) - done, "resume re-ran a done trial or skipped one"
    assert ran[lost_key].lost_calls == (lost_call,)
    assert all(not c.cached for t in ran.values() for c in t.calls)
    assert first.spent_usd > 0

    second = RayExecutor(plan, {"limit": LIMIT}, cache_path=cache, workers=2).run()
    again = [t for ts in second.trials.values() for t in ts]
    assert_same_as_reference(again, reference, plan, ignore=frozenset({"cached_calls"}))
    for t in again:
        assert all(c.cached for c in t.calls) == (trial_key(t) in ran), trial_key(t)
    paid = sum((t.cost_usd or Decimal(0) for k, t in reference.items() if k in done), Decimal(0))
    assert second.spent_usd == paid


def test_benchmark_runs_briefly(cluster: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(
        "ray_scaling", REPO / "benchmarks" / "ray_scaling.py"
    )
    assert spec is not None and spec.loader is not None
    ray_scaling = importlib.util.module_from_spec(spec)
    sys.modules["ray_scaling"] = ray_scaling  # dataclasses look their module up
    spec.loader.exec_module(ray_scaling)
    argv = ["--workers", "1", "2", "--limit", "3", "--trials", "1", "--no-local"]
    results = ray_scaling.main(argv)
    assert {m.trials for m in results.values()} == {3}
    out = capsys.readouterr().out
    assert "scaling 1 -> 2 workers:" in out
