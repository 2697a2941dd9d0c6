"""The MLflow helper: traces streamed and tables built from the journal while trials run, the
run logged by the helper at the end, and the fallbacks when the store or the helper fails."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from mlflow.tracking import MlflowClient

from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, TrialRecord
from roibench.core.usage import Usage

if TYPE_CHECKING:
    from roibench.journal.spec import RunSpec
    from roibench.results.summary import CellSummary

REPO = Path(__file__).resolve().parents[2]


def run_quickstart(tmp: Path, uri: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "roibench", "run", str(REPO / "evals/quickstart.toml"),
         "--limit", "4", "--trials", "2", "--out", str(tmp / "runs"), *extra],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def traces_per_cell(uri: str) -> dict[str, int]:
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("quickstart")
    assert exp is not None
    out = {}
    for r in client.search_runs([exp.experiment_id]):
        if "mlflow.parentRunId" in r.data.tags:
            traces = client.search_traces(
                locations=[exp.experiment_id], run_id=r.info.run_id, max_results=200
            )
            out[r.data.tags["roibench.cell"]] = len(traces)
    return out


def test_streamed_traces_are_linked_to_their_cells(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    out = run_quickstart(tmp_path, uri)
    assert out.returncode == 0, out.stderr[-2000:]
    # 4 tasks x 2 trials per cell, each traced once, none twice
    assert traces_per_cell(uri) == {
        "refunds/react/sim/frontier": 8,
        "refunds/react/sim/balanced": 8,
        "refunds/react/sim/budget": 8,
    }


def test_sampled_streaming_traces_the_same_trials_in_every_cell(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    out = run_quickstart(tmp_path, uri, "--trace-sample", "0.5")
    assert out.returncode == 0, out.stderr[-2000:]
    counts = traces_per_cell(uri)
    assert len(set(counts.values())) == 1 and 0 < next(iter(counts.values())) < 8


def test_a_store_without_span_logging_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # deprecated in MLflow 3, still usable
    uri = (tmp_path / "mlruns").as_uri()  # the file store cannot take batched spans
    out = run_quickstart(tmp_path, uri)
    assert "MLflow not logged" not in out.stderr
    assert out.returncode == 0, out.stderr[-2000:]
    assert set(traces_per_cell(uri).values()) == {8}


def journal_trial(task: str, k: int, cell: str = "w/a/m") -> TrialRecord:
    """A finished one-call trial."""
    now = datetime.now(UTC)
    w, a, m = cell.split("/", 2)
    return TrialRecord(
        cell=cell, workflow=w, agent=a, model=m, task_id=task, tier="easy", trial=k,
        seed=1, outcome=Outcome.resolved(),
        calls=(CallRecord(started_at=now, latency_s=0.1, usage=Usage(input_tokens=10, requests=1),
                          cost_usd=Decimal("0.001")),),
        usage=Usage(input_tokens=10, requests=1), cost_usd=Decimal("0.001"), steps=1,
        started_at=now, duration_s=0.2,
    )  # fmt: skip


def quickstart_spec(tmp: Path) -> tuple[RunSpec, Path]:
    """The quickstart's RunSpec and a journal holding it as its header."""
    from roibench.config.suite import load_suite
    from roibench.journal.spec import header_line
    from roibench.journal.store import Journal
    from roibench.run.plan import spec_for
    from roibench.run.runner import plan_suite

    spec = spec_for(plan_suite(load_suite(REPO / "evals/quickstart.toml")), "helper-test")
    path = tmp / "journal.jsonl"
    Journal(path, header=header_line(spec)).close()
    return spec, path


def contexts(spec: RunSpec) -> dict[str, dict[str, object]]:
    return {
        c.label: {"model_id": c.model.model_id, "provider": "sim", "simulated": True}
        for c in spec.cells
    }


def summaries_of(spec: RunSpec, trials: list[TrialRecord]) -> dict[str, CellSummary]:
    from roibench.results.summary import summarize, tally_trials

    return summarize(spec, tally_trials(spec, trials))


def cell_traces(client: MlflowClient, experiment: str, cell: str) -> list[str]:
    """Task ids of the traces linked to a cell's run (one per trace)."""
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    run = next(
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("roibench.cell") == cell
    )
    traces = client.search_traces(
        locations=[exp.experiment_id], run_id=run.info.run_id, max_results=100
    )
    return sorted(t.info.tags["roibench.task_id"] for t in traces)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_the_helper_follows_the_journal_and_logs_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    from roibench.journal.store import Journal
    from roibench.sinks.mlflow import trace_stream
    from roibench.sinks.mlflow.trace_stream import SinkHelper

    if start_method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{start_method} is not available on {sys.platform}")
    monkeypatch.setattr(trace_stream, "_start_method", lambda: start_method)
    import mlflow

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow.set_tracking_uri(uri)  # in-process, as a caller may: the helper uses it too
    client = MlflowClient(tracking_uri=uri)
    client.create_experiment("other")  # the parent holds a connection to the database
    spec, path = quickstart_spec(tmp_path)
    cell = spec.cells[0].label
    journal = Journal(path)
    earlier = journal_trial("t0", 0, cell)
    journal.append(earlier)  # a resumed run's earlier trial: in the tables, traced at the end
    helper = SinkHelper()
    try:
        helper.start(spec, path, "follow", 1.0, contexts(spec))
        trials = [earlier]
        for k in range(5):  # written while the helper runs, some after it caught up
            trial = journal_trial("t1", k, cell)
            journal.append(trial)
            trials.append(trial)
            if k == 2:
                time.sleep(0.3)
        journal.close()
        outcome = helper.finish(spec, summaries_of(spec, trials))
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert outcome.error is None and outcome.run_id is not None
    assert helper.written.keys[cell] == {("t1", k) for k in range(5)}  # streamed
    assert cell_traces(client, "follow", cell) == ["t0"] + ["t1"] * 5
    # the parent's own connection still works after the helper used the same database
    assert client.get_experiment_by_name("other") is not None
    cell_run = next(
        r
        for r in client.search_runs([client.get_experiment_by_name("follow").experiment_id])  # type: ignore[union-attr]
        if r.data.tags.get("roibench.cell") == cell
    )
    assert cell_run.data.metrics["trials"] == 6 and cell_run.data.metrics["traces"] == 6
    local = client.download_artifacts(cell_run.info.run_id, "trials.json", str(tmp_path))
    assert len(json.loads(Path(local).read_text())["data"]) == 6  # the helper's own table


def test_a_refused_run_leaves_the_store_untouched(tmp_path: Path) -> None:
    from roibench.sinks.mlflow.trace_stream import SinkHelper

    env_uri = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'never.db'}"
    try:
        helper = SinkHelper()
        time.sleep(0.5)  # it is importing MLflow meanwhile
        helper.abort()
    finally:
        if env_uri is None:
            del os.environ["MLFLOW_TRACKING_URI"]
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env_uri
    assert helper.pid is not None and process_gone(helper.pid)
    assert not (tmp_path / "never.db").exists()


def test_the_run_process_does_not_import_mlflow(tmp_path: Path) -> None:
    """`roibench run` leaves MLflow to its helper: the run's own process never imports it
    (the import, the store and the plots are the helper's, on another core)."""
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from roibench.run.orchestrator import RunRequest, run_suite\n"
        f"out = run_suite(RunRequest(suite=Path({str(REPO / 'evals/quickstart.toml')!r}), "
        f"limit=2, trials=1, out=Path({str(tmp_path / 'runs')!r})))\n"
        "print('LOGGED', out.mlflow.error is None and out.mlflow.run_id is not None)\n"
        "heavy = [m for m in ('mlflow', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'm.db'}")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "LOGGED True" in out.stdout and "HEAVY []" in out.stdout, out.stdout


def test_the_helper_is_forked_only_from_a_single_threaded_process() -> None:
    from roibench.sinks.mlflow.trace_stream import _start_method

    fresh = subprocess.run(  # a fresh interpreter has one thread (this one may have more)
        [sys.executable, "-c",
         "from roibench.sinks.mlflow.trace_stream import _start_method as m; print(m())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert fresh.stdout.strip() == ("fork" if sys.platform.startswith("linux") else "spawn")
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:  # a lock held by another thread would stay locked forever in a forked child
        assert _start_method() == "spawn"
    finally:
        release.set()
        other.join()


def process_gone(pid: int) -> bool:
    """No such process, or only its zombie (a killed run's orphans are reaped by whoever
    adopts them, which in a container may be nobody)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process state in /proc")
@pytest.mark.parametrize("started", [False, True])
def test_the_helper_stops_when_its_run_is_killed(tmp_path: Path, started: bool) -> None:
    script = f"""
import time
from pathlib import Path
from roibench.config.suite import load_suite
from roibench.journal.spec import header_line
from roibench.journal.store import Journal
from roibench.run.plan import spec_for
from roibench.run.runner import plan_suite
from roibench.sinks.mlflow.trace_stream import SinkHelper

helper = SinkHelper()
if {started}:
    spec = spec_for(plan_suite(load_suite(Path(r"{REPO / "evals/quickstart.toml"}"))))
    journal = Path(r"{tmp_path / "journal.jsonl"}")
    Journal(journal, header=header_line(spec)).close()
    fields = {{"model_id": "m", "provider": "sim", "simulated": True}}
    cells = {{c.label: fields for c in spec.cells}}
    helper.start(spec, journal, "killed", 1.0, cells)
print(helper.pid, flush=True)
time.sleep(600)
"""
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'm.db'}")
    run = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO, env=env
    )
    assert run.stdout is not None
    helper = int(run.stdout.readline())
    assert not process_gone(helper)
    run.kill()  # SIGKILL: no atexit handler stops the helper
    run.wait()
    deadline = time.monotonic() + 60  # a liveness bound, not a timing assertion
    while not process_gone(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped = process_gone(helper)
    if not stopped:
        os.kill(helper, signal.SIGKILL)  # leave no orphan behind a failed test
    assert stopped


def test_a_helper_that_dies_half_way_leaves_the_rest_to_the_run(tmp_path: Path) -> None:
    import mlflow

    from roibench.journal.store import Journal
    from roibench.sinks.mlflow.trace_stream import SinkHelper

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    spec, path = quickstart_spec(tmp_path)
    cell = spec.cells[0].label
    journal = Journal(path)
    helper = SinkHelper()
    try:
        helper.start(spec, path, "died", 1.0, contexts(spec))
        trials = [journal_trial(f"t{i}", 0, cell) for i in range(5)]
        for t in trials[:3]:
            journal.append(t)
        deadline = time.monotonic() + 120  # until the helper has written its first batch
        while True:
            exp = client.get_experiment_by_name("died")
            if exp is not None and len(client.search_traces(locations=[exp.experiment_id])) >= 3:
                break
            assert time.monotonic() < deadline, "the helper wrote nothing"
            time.sleep(0.1)
        time.sleep(1.0)  # its report of that batch reaches the pipe
        assert helper.pid is not None
        os.kill(helper.pid, signal.SIGKILL)  # e.g. the OOM killer
        for t in trials[3:]:
            journal.append(t)
        journal.close()
        outcome = helper.finish(spec, summaries_of(spec, trials))
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert outcome.error is None, outcome.error  # logged from the run's process instead
    assert helper.written.error is not None and "died" in helper.written.error
    assert helper.written.keys[cell] == {(f"t{i}", 0) for i in range(3)}
    # every trial has exactly one trace, linked to the cell's run: none lost, none twice
    assert cell_traces(client, "died", cell) == [f"t{i}" for i in range(5)]
    exp = client.get_experiment_by_name("died")
    assert exp is not None
    assert len(client.search_traces(locations=[exp.experiment_id], max_results=50)) == 5
