"""`roibench report` on a finished run from a real `mlflow server`: a self-contained HTML file."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow_server_fixture import FinishedRuns
from typer.testing import CliRunner

from roibench.cli.app import app

CELLS = ("refunds/react/sim/frontier", "refunds/react/sim/balanced", "refunds/react/sim/budget")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def tracking(finished_runs: FinishedRuns, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The finished runs, with MLflow pointed at their server."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", finished_runs.server.url)
    mlflow.set_tracking_uri(finished_runs.server.url)
    yield finished_runs
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def _report(run_id: str, path: Path) -> str:
    result = CliRunner().invoke(app, ["report", run_id, "--output", str(path)])
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8")


def test_report_is_self_contained(tracking: FinishedRuns, tmp_path: Path) -> None:
    text = _report(tracking.full, tmp_path / "report.html")
    assert text.startswith("<!DOCTYPE html>")
    # nothing to fetch: no scripts, no stylesheets, no remote images, fonts or imports
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "@import" not in text and "@font-face" not in text
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)
    resources = re.findall(r"\b(?:src|href|srcset|poster|data)\s*=\s*[\"']([^\"']*)", text)
    assert resources and all(r.startswith("data:image/png;base64,") for r in resources)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 4  # the run's three plots and the paired comparisons' forest plot
    assert all(base64.b64decode(i).startswith(PNG) for i in images)


def test_report_states_the_run(tracking: FinishedRuns, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    text = _report(tracking.full, tmp_path / "report.html")
    assert 'id="simulated"' in text and "SIMULATED RESULTS" in text
    client = MlflowClient(tracking.server.url)
    parent = client.get_run(tracking.full)
    assert str(parent.info.run_name) in text and tracking.full in text
    children = client.search_runs(
        [tracking.experiment_id], f"tags.`mlflow.parentRunId` = '{tracking.full}'"
    )
    assert {c.data.tags["roibench.cell"] for c in children} == set(CELLS)
    for child in children:
        assert str(child.info.run_name) in text
        rate = child.data.metrics["success_rate"]
        row = text[text.index(f"{child.data.tags['roibench.cell']}<br>") :].split("</tr>")[0]
        assert f"{rate:.1%}" in row  # the table shows the server's figure for that cell
        assert child.data.params["dataset_hash"] in text
    for section in ("Results per cell", "Plots", "Setup", "Method", "pass^k", "Price corridor"):
        assert section in text


def test_report_says_whether_differences_are_real(tracking: FinishedRuns, tmp_path: Path) -> None:
    """Every pair of the run's three cells (same tasks), from its journal artifact: Δ success
    is the two cell runs' rates apart; intervals, Holm-adjusted p-values and MDDs are shown."""
    from mlflow import MlflowClient

    text = _report(tracking.full, tmp_path / "report.html")
    assert "Is the difference real?" in text and 'id="paired"' in text
    section = text.split('id="paired"')[1].split("</table>")[0]
    client = MlflowClient(tracking.server.url)
    rate = {
        c.data.tags["roibench.cell"]: c.data.metrics["success_rate"]
        for c in client.search_runs(
            [tracking.experiment_id], f"tags.`mlflow.parentRunId` = '{tracking.full}'"
        )
    }
    for a, b in (CELLS[:2], (CELLS[0], CELLS[2]), CELLS[1:]):
        row = section.split(f'{b} vs {a}</td><td class="l">success rate</td>')[1]
        delta = row.split("<td>")[1].split("</td>")[0]
        assert delta == f"{(rate[b] - rate[a]) * 100:+.1f} pt", (a, b, delta)
    assert "Holm across the 3 pair(s)" in text and "minimum detectable difference" in text
    assert "MDD success" in text  # the per-cell column


def test_report_from_a_cell_run_covers_its_suite(tracking: FinishedRuns, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking.server.url)
    child = client.search_runs(
        [tracking.experiment_id], f"tags.`mlflow.parentRunId` = '{tracking.sampled}'"
    )[0]
    text = _report(child.info.run_id, tmp_path / "cell.html")
    assert tracking.sampled in text and all(cell in text for cell in CELLS)


def test_report_unknown_run_exits_2(tracking: FinishedRuns, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "f" * 32, "--output", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    assert not (tmp_path / "x.html").exists()
