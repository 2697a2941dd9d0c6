"""`roibench runs`, `report latest`, the `compare` CSV, and what reading commands say when no
tracking store is there — against a real `mlflow server` holding runs the real CLI logged."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow_server_fixture import EXPERIMENT, FinishedRuns
from typer.testing import CliRunner

from roibench.cli.app import app


@pytest.fixture
def tracking(finished_runs: FinishedRuns, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", finished_runs.server.url)
    mlflow.set_tracking_uri(finished_runs.server.url)
    yield finished_runs
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_runs_lists_the_suite_runs_newest_first(tracking: FinishedRuns) -> None:
    from mlflow import MlflowClient

    result = invoke("runs", "--experiment", EXPERIMENT)
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking.server.url)
    parents = sorted(
        (client.get_run(r) for r in (tracking.full, tracking.sampled)),
        key=lambda r: r.info.start_time,
        reverse=True,
    )
    lines = [line for line in result.output.splitlines() if any(
        p.info.run_id in line for p in parents)]  # fmt: skip
    assert len(lines) == 2
    for line, parent in zip(lines, parents, strict=True):
        assert parent.info.run_id in line and str(parent.info.run_name) in line
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        assert cells[2] == "quickstart" and cells[3] == "3" and cells[4] == "2"
        assert cells[5] == "simulated" and cells[6] == "run"


def test_report_latest_is_the_newest_run(tracking: FinishedRuns, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from roibench.sinks.mlflow.lookup import suite_runs

    newest = suite_runs(MlflowClient(tracking.server.url))[0].run_id
    out = tmp_path / "latest.html"
    result = invoke("report", "latest", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert newest in out.read_text(encoding="utf-8")


def test_compare_csv_names_workflow_agent_model_in_one_number_format(
    tracking: FinishedRuns,
) -> None:
    result = invoke("compare", "--run", tracking.full, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.output.splitlines()))
    assert len(rows) == 3
    for row in rows:
        workflow, agent, model = row["cell"].split("/", 2)
        assert (row["workflow"], row["agent"], row["model"]) == (workflow, agent, model)
    numbers = [v for row in rows for k, v in row.items() if k not in ("run", "cell") and v]
    assert not [v for v in numbers if re.fullmatch(r"-?[0-9.]+e[-+]?[0-9]+", v, re.I)]
    assert float(rows[0]["spend_usd"]) > 0
    # whole numbers without a fraction
    assert all(re.fullmatch(r"\d+", row["trials"]) for row in rows)


@pytest.mark.parametrize("args", [["runs"], ["compare"], ["report", "latest"], ["show", "latest"]])
def test_no_tracking_store_is_said_plainly(args: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    out = subprocess.run(
        [sys.executable, "-m", "roibench", *args], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stdout + out.stderr
    assert "no MLflow tracking store" in out.stderr and "MLFLOW_TRACKING_URI" in out.stderr
    assert list(tmp_path.iterdir()) == []  # no new, empty store left behind
