"""`roibench compare` on finished runs read back from a real `mlflow server`."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow_server_fixture import EXPERIMENT, FinishedRuns
from typer.testing import CliRunner

from roibench.cli.app import app

CELLS = {"refunds/react/sim/frontier", "refunds/react/sim/balanced", "refunds/react/sim/budget"}


@pytest.fixture
def tracking(finished_runs: FinishedRuns, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The finished runs, with MLflow pointed at their server."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", finished_runs.server.url)
    mlflow.set_tracking_uri(finished_runs.server.url)
    yield finished_runs
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["compare", *args])


def _cells(runs: FinishedRuns, parent: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(runs.server.url)
    found = client.search_runs([runs.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    return {r.data.tags["roibench.cell"]: r for r in found}


def _markdown_rows(output: str) -> list[dict[str, str]]:
    lines = output.strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert set(lines[1].strip("|").split("|")) <= {"---", "---:"}
    return [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


def test_markdown_matches_the_server(tracking: FinishedRuns) -> None:
    result = _invoke("--run", tracking.full, "--format", "markdown")
    assert result.exit_code == 0, result.output
    rows = _markdown_rows(result.output)
    assert list(rows[0])[:3] == ["run", "cell", "success_rate"]
    assert {"pass_hat_k", "cost_per_outcome_usd", "roi_token_pricing"} <= set(rows[0])
    assert len(rows) == 3 and {r["cell"] for r in rows} == CELLS
    rates = [float(r["success_rate"]) for r in rows]
    assert rates == sorted(rates, reverse=True)  # sorted by success rate, highest first
    full = _cells(tracking, tracking.full)
    for r in rows:
        m = full[r["cell"]].data.metrics
        assert float(r["success_rate"]) == pytest.approx(m["success_rate"], abs=5e-5)
        assert float(r["pass_hat_k"]) == pytest.approx(m["pass_hat_2"], abs=5e-5)
        assert float(r["roi_token_pricing"].replace(",", "")) == pytest.approx(
            m["roi_token_pricing"], rel=1e-3
        )


def test_two_runs_side_by_side(tracking: FinishedRuns) -> None:
    result = _invoke("--run", tracking.full, "--run", tracking.sampled, "--format", "markdown")
    assert result.exit_code == 0, result.output
    rows = _markdown_rows(result.output)
    assert len(rows) == 6
    assert Counter(r["cell"] for r in rows) == Counter({c: 2 for c in CELLS})


def test_csv_export_sorted_ascending_with_every_metric(
    tracking: FinishedRuns, tmp_path: Path
) -> None:
    out = tmp_path / "cells.csv"
    result = _invoke("--experiment", EXPERIMENT, "--sort", "cost_per_outcome_usd",
                     "--ascending", "--format", "csv", "--output", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    assert {"run_id", "pass_hat_1", "pass_hat_2", "latency_p95_s", "spend_usd", "traces"} <= set(
        rows[0]
    )
    costs = [float(r["cost_per_outcome_usd"]) for r in rows if r["cost_per_outcome_usd"]]
    assert costs == sorted(costs) and len(costs) >= 5
    runs = {r["run_id"]: r for r in rows}
    for run in [
        *_cells(tracking, tracking.full).values(),
        *_cells(tracking, tracking.sampled).values(),
    ]:
        row = runs[run.info.run_id]
        assert float(row["roi_token_pricing"]) == pytest.approx(
            run.data.metrics["roi_token_pricing"]
        )
        assert row["simulated"] == "True"


def test_a_cell_run_id_selects_that_cell(tracking: FinishedRuns) -> None:
    cell = _cells(tracking, tracking.full)["refunds/react/sim/budget"]
    result = _invoke("--run", cell.info.run_id, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.output.splitlines()))
    assert [r["cell"] for r in rows] == ["refunds/react/sim/budget"]


def test_bad_selections_exit_2(tracking: FinishedRuns) -> None:
    result = _invoke("--run", tracking.full, "--sort", "no_such_metric")
    assert result.exit_code == 2
    assert "no_such_metric" in result.output and "success_rate" in result.output
    assert _invoke("--experiment", "no-such-experiment").exit_code == 2
    assert _invoke("--run", "0" * 32).exit_code == 2
    assert _invoke("--run", tracking.full, "--format", "xml").exit_code == 2


def test_compare_and_report_help_import_neither_mlflow_nor_pandas() -> None:
    for command in ("compare", "report"):
        code = (
            "import sys\nfrom roibench.cli.app import app\n"
            f"try:\n    app(['{command}', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('mlflow', 'pandas', 'matplotlib') if m in sys.modules))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "[]", (command, out.stdout[-500:])


def test_agents_compared_on_the_simulator_are_named() -> None:
    import pandas as pd

    from roibench.cli.compare import agents_compared_on_the_simulator

    frame = pd.DataFrame(
        {
            "cell": [
                "refunds/react/sim/budget",
                "refunds/self_check/sim/budget",  # differs only in agent, simulated
                "refunds/react/sim/frontier",  # alone with its model
                "claims/react/deepseek-v4",  # real models: not the simulator's business
                "claims/self_check/deepseek-v4",
            ],
            "simulated": [True, True, True, False, False],
        }
    )
    assert agents_compared_on_the_simulator(frame) == [
        "refunds/react/sim/budget",
        "refunds/self_check/sim/budget",
    ]
    assert agents_compared_on_the_simulator(frame.iloc[2:]) == []
