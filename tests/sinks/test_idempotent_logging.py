"""One journal is one MLflow parent run: SIGKILL early, mid-run or during the final logging,
then resume, then `roibench log` twice — the store ends with exactly one parent, the suite's
cells and one trace per trial. And a tracking server that dies during the final logging costs
a bounded wait and a clear message, after which `roibench log` completes the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
from mlflow_server_fixture import running_mlflow_server, stop_server

SUITE = """\
name = "killme"
seed = 3
trials = 2
concurrency = 2
workflows = [{ name = "refunds", limit = 4 }]
agents = ["react"]
[outcome_pricing]
price_usd = 0.99
[[models]]
name = "sim/frontier"
provider = "local"
base_url = "URL"
[[models]]
name = "sim/budget"
provider = "local"
base_url = "URL"
"""
CELLS = {"refunds/react/sim/frontier", "refunds/react/sim/budget"}
TRIALS = 4 * 2 * len(CELLS)


@pytest.fixture(scope="module")
def slow_sim(tmp_path_factory: pytest.TempPathFactory):
    """`roibench sim` with 0.15 s per request, so a run lasts long enough to be killed in it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "roibench", "sim", "--port", "0", "--latency", "0.15"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening on "), line
    yield line.split()[-1].strip()
    proc.terminate()
    proc.wait(timeout=10)


def env(store: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    e.update(MLFLOW_TRACKING_URI=store, COLUMNS="200", ROIBENCH_TRACE_SAMPLE="1")
    return e


def roibench(root: Path, store: str, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=root, env=env(store), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def trial_lines(root: Path) -> int:
    found = list((root / "runs").rglob("journal.jsonl"))
    if not found:
        return 0
    return sum(1 for line in found[0].read_text().splitlines() if '"kind":"trial"' in line)


def logging_started(store: str) -> bool:
    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("killme")
    if exp is None:
        return False
    return bool(client.search_runs([exp.experiment_id], max_results=1))


def kill_when(proc: subprocess.Popen[str], ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def assert_one_parent(store: str) -> None:
    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("killme")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [(r.info.run_name, r.info.status) for r in parents]
    (parent,) = parents
    assert parent.info.status == "FINISHED"
    cells = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert {c.data.tags["roibench.cell"] for c in cells} == CELLS and len(cells) == len(CELLS)
    assert all(c.info.status == "FINISHED" for c in cells)
    traces = []
    token = None
    while True:
        page = client.search_traces(
            locations=[exp.experiment_id], max_results=200, page_token=token, include_spans=False
        )
        traces.extend(page)
        token = page.token
        if not token:
            break
    tags = [t.info.tags for t in traces]
    keys = Counter((g["roibench.cell"], g["roibench.task_id"], g["roibench.trial"]) for g in tags)
    assert len(keys) == TRIALS and set(keys.values()) == {1}, keys.most_common(3)


@pytest.mark.parametrize("when", ["early", "mid-run", "during logging"])
def test_kill_resume_and_relog_converge_on_one_parent(
    when: str, slow_sim: str, tmp_path: Path
) -> None:
    (tmp_path / "suite.toml").write_text(SUITE.replace("URL", slow_sim))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "roibench", "run", "suite.toml", "--out", "runs"],
        cwd=tmp_path, env=env(store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    triggers = {
        "early": lambda: trial_lines(tmp_path) >= 1,
        "mid-run": lambda: trial_lines(tmp_path) >= TRIALS // 2,
        "during logging": lambda: logging_started(store),
    }
    kill_when(proc, triggers[when])
    journal = next((tmp_path / "runs").rglob("journal.jsonl"))
    if trial_lines(tmp_path) < TRIALS:
        roibench(tmp_path, store, "run", "suite.toml", "--resume", str(journal))
    assert trial_lines(tmp_path) == TRIALS
    roibench(tmp_path, store, "log", str(journal))
    roibench(tmp_path, store, "log", str(journal))
    assert_one_parent(store)
    logged = [
        json.loads(line)["mlflow_run_id"]
        for line in journal.read_text().splitlines()
        if line.startswith('{"kind": "logged"')
    ]
    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("killme")
    assert exp is not None
    (parent,) = [
        r
        for r in client.search_runs([exp.experiment_id])
        if "mlflow.parentRunId" not in r.data.tags
    ]
    assert logged and logged[-1] == parent.info.run_id


def test_a_tracking_server_dying_during_logging_costs_a_bounded_wait(
    tmp_path: Path,
) -> None:
    (tmp_path / "suite.toml").write_text(
        SUITE.replace('provider = "local"\nbase_url = "URL"', 'provider = "sim"')
    )
    root = tmp_path / "server"
    root.mkdir()
    with running_mlflow_server(root) as server:
        port = int(server.url.rsplit(":", 1)[1])
        proc = subprocess.Popen(
            [sys.executable, "-m", "roibench", "run", "suite.toml", "--out", "runs"],
            cwd=tmp_path, env=env(server.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        client = MlflowClient(tracking_uri=server.url)
        deadline = time.monotonic() + 180
        while True:  # the final logging has begun: the parent run exists
            exp = client.get_experiment_by_name("killme")
            if exp is not None and client.search_runs([exp.experiment_id], max_results=1):
                break
            assert proc.poll() is None, "the run finished before the server could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stop_server(server.pid, signal.SIGKILL)
        # MLflow's own retries took ~505 s here; roibench bounds them (~30 s per request)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    flat = " ".join(err.split())
    assert "tracking server unreachable" in flat and "the journal is complete" in flat
    assert "roibench log" in flat
    journal = next((tmp_path / "runs").rglob("journal.jsonl"))
    with running_mlflow_server(root, port=port) as server:
        roibench(tmp_path, server.url, "log", str(journal))
        assert_one_parent(server.url)
