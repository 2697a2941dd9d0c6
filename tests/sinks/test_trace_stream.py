"""Traces streamed from a helper process while trials run, and the fallback when the store
cannot take them."""

from __future__ import annotations

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

import pytest
from mlflow.tracking import MlflowClient

from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, TrialRecord
from roibench.core.usage import Usage

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


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_the_helper_follows_the_journal_from_where_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    from roibench.journal.store import Journal
    from roibench.sinks.mlflow import trace_stream
    from roibench.sinks.mlflow.trace_stream import TraceStreamer

    if start_method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{start_method} is not available on {sys.platform}")
    monkeypatch.setattr(trace_stream, "_start_method", lambda: start_method)

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("follow")  # the parent holds a connection
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, header={"suite": "s"})
    journal.append(journal_trial("before", 0))  # a resumed run's earlier trial: not the helper's
    streamer = TraceStreamer(
        uri, experiment_id, {"w/a/m": {"model_id": "m", "provider": "sim", "simulated": True}},
        journal=path, sample=1.0, seed=1,
    )  # fmt: skip
    for k in range(5):  # written while the helper runs, some after it caught up
        journal.append(journal_trial("t1", k))
        streamer.submit(journal_trial("t1", k))
        if k == 2:
            time.sleep(0.3)
    journal.close()
    written = streamer.finish()
    assert written.error is None
    assert len(written.ids["w/a/m"]) == 5
    assert written.keys == {"w/a/m": {("t1", k) for k in range(5)}}
    # the parent's own connection still works after a forked helper used the same database
    traces = client.search_traces(locations=[experiment_id], max_results=50)
    assert sorted(t.info.trace_id for t in traces) == sorted(written.ids["w/a/m"])
    assert {t.info.tags["roibench.task_id"] for t in traces} == {"t1"}


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
def test_the_helper_stops_when_its_run_is_killed(tmp_path: Path) -> None:
    script = f"""
import time
from pathlib import Path
from mlflow.tracking import MlflowClient
from roibench.journal.store import Journal
from roibench.sinks.mlflow.trace_stream import TraceStreamer

uri = "sqlite:///{tmp_path / "m.db"}"
experiment_id = MlflowClient(tracking_uri=uri).create_experiment("killed")
journal = Path(r"{tmp_path / "journal.jsonl"}")
Journal(journal, header={{"suite": "s"}}).close()
streamer = TraceStreamer(
    uri, experiment_id, {{"w/a/m": {{"model_id": "m", "provider": "sim", "simulated": True}}}},
    journal=journal, sample=1.0, seed=1,
)
print(streamer.pid, flush=True)
time.sleep(600)
"""
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
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


def test_a_helper_that_dies_half_way_leaves_the_rest_to_the_sink(tmp_path: Path) -> None:
    from roibench.config.suite import load_suite
    from roibench.journal.store import Journal
    from roibench.run.plan import spec_for
    from roibench.run.runner import plan_suite
    from roibench.sinks.mlflow.runs import finish_streamed_traces, trace_fields
    from roibench.sinks.mlflow.trace_stream import TraceStreamer

    plan = spec_for(plan_suite(load_suite(REPO / "evals/quickstart.toml")))
    cell = plan.cells[0]
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("died")
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, header={"suite": "quickstart"})
    fields = {k: v for k, v in trace_fields(cell, plan).items() if k != "cell"}
    streamer = TraceStreamer(
        uri, experiment_id, {cell.label: fields}, journal=path, sample=1.0, seed=plan.seed
    )
    trials = [journal_trial(f"t{i}", 0, cell.label) for i in range(5)]
    for t in trials[:3]:
        journal.append(t)
        streamer.submit(t)
    deadline = time.monotonic() + 60  # until the helper has written its first batch
    while len(client.search_traces(locations=[experiment_id])) < 3:
        assert time.monotonic() < deadline, "the helper wrote nothing"
        time.sleep(0.1)
    time.sleep(1.0)  # its report of that batch reaches the pipe
    assert streamer.pid is not None
    os.kill(streamer.pid, signal.SIGKILL)  # e.g. the OOM killer
    for t in trials[3:]:
        journal.append(t)
        streamer.submit(t)
    journal.close()
    run_id = client.create_run(experiment_id).info.run_id
    finish_streamed_traces(client, plan, streamer, {cell.label: run_id}, path, experiment_id)
    written = streamer.finish()
    assert written.error is not None and "died" in written.error
    assert written.keys[cell.label] == {(f"t{i}", 0) for i in range(3)}
    # every trial has exactly one trace, linked to the cell's run: none lost, none twice
    traces = client.search_traces(locations=[experiment_id], run_id=run_id, max_results=50)
    assert sorted(t.info.tags["roibench.task_id"] for t in traces) == [f"t{i}" for i in range(5)]
    assert len(client.search_traces(locations=[experiment_id], max_results=50)) == 5
