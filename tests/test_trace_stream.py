"""Traces streamed from a helper process while trials run, and the fallback when the store
cannot take them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]


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
            out[r.info.run_name] = len(traces)
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
