"""The MLflow UI, in headless Chromium, against a real `mlflow server` holding roibench runs:
the experiment page lists the suite runs, a cell run's page shows its name and metrics; a
screenshot is saved under test-artifacts/."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from mlflow_server_fixture import REPO, ComparisonRun, FinishedRuns

ARTIFACTS = REPO / "test-artifacts"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
    "--window-size=1500,1000", "--hide-scrollbars",
]  # fmt: skip


def chromium() -> str:
    """Debian's chromium, or skip."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (apt-get install -y chromium); .ci/run installs it")


def browse(url: str, profile: Path, *, budget_ms: int, extra: list[str]) -> str:
    """Run headless Chromium on `url` with a fresh profile; return stdout."""
    shutil.rmtree(profile, ignore_errors=True)
    out = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}",
         f"--virtual-time-budget={budget_ms}", *extra, url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def page_text(url: str, profile: Path, expected: list[str]) -> str:
    """The rendered page's visible text (the SPA needs a few virtual seconds to fetch)."""
    text = ""
    for budget in (15_000, 40_000):  # a slow machine gets a second, longer chance
        dom = browse(url, profile, budget_ms=budget, extra=["--dump-dom"])
        dom = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", dom, flags=re.S)
        text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
        if all(e in text for e in expected):
            break
    return text


def test_experiment_page_lists_the_runs(finished_runs: FinishedRuns, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(finished_runs.server.url)
    names = [
        str(client.get_run(r).info.run_name) for r in (finished_runs.full, finished_runs.sampled)
    ]
    url = f"{finished_runs.server.url}/#/experiments/{finished_runs.experiment_id}/runs"
    text = page_text(url, tmp_path / "profile", names)
    for name in names:
        assert name in text, text[:3000]
    assert "issue6-e2e" in text
    assert "8 matching runs" in text  # 2 suite runs + 3 cells each (names may coincide)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "mlflow-ui-experiment.png"
    shot.unlink(missing_ok=True)
    browse(url, tmp_path / "profile", budget_ms=15_000, extra=[f"--screenshot={shot}"])
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


def test_cell_run_page_shows_cell_and_metrics(finished_runs: FinishedRuns, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(finished_runs.server.url)
    cell = client.search_runs(
        [finished_runs.experiment_id],
        f"tags.`mlflow.parentRunId` = '{finished_runs.full}' and "
        "tags.`roibench.cell` = 'refunds/react/sim/frontier'",
    )[0]
    url = (
        f"{finished_runs.server.url}/#/experiments/{finished_runs.experiment_id}"
        f"/runs/{cell.info.run_id}"
    )
    name = "sim/frontier · react · refunds"  # the run name leads with the model
    text = page_text(url, tmp_path / "profile", [name, "success_rate"])
    assert name in text, text[:3000]
    for metric in ("success_rate", "cost_per_outcome_usd", "roi_outcome_pricing"):
        assert metric in text, (metric, text[:3000])
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "mlflow-ui-cell-run.png"
    shot.unlink(missing_ok=True)
    browse(url, tmp_path / "profile", budget_ms=15_000, extra=[f"--screenshot={shot}"])
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_cell_run_traces_tab_lists_one_trace_per_trial(
    finished_runs: FinishedRuns, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(finished_runs.server.url)
    cell = client.search_runs(
        [finished_runs.experiment_id],
        f"tags.`mlflow.parentRunId` = '{finished_runs.full}' and "
        "tags.`roibench.cell` = 'refunds/react/sim/budget'",
    )[0]
    url = (
        f"{finished_runs.server.url}/#/experiments/{finished_runs.experiment_id}"
        f"/runs/{cell.info.run_id}/traces"
    )
    text = page_text(url, tmp_path / "profile", ["8 of 8"])
    assert "8 of 8" in text, text[:3000]  # the run's 8 trials, linked to it
    task_ids = set(re.findall(r'"task_id": "(refunds-[a-z0-9-]+)"', text))
    assert len(task_ids) == 4, text[:3000]


def test_comparison_run_holds_the_paired_deltas(comparison_run: ComparisonRun) -> None:
    """The comparison run on the real server: Δ success = the two cell runs' own success rates
    apart (both cells ran the same tasks, k = 2), with its interval, p-value and MDD."""
    from mlflow import MlflowClient

    runs = comparison_run.runs
    client = MlflowClient(runs.server.url)
    run = client.get_run(comparison_run.run_id)
    assert run.data.tags["roibench.role"] == "comparison"
    assert run.data.tags["roibench.compared_runs"] == runs.full
    assert run.data.params["a_cell"] == comparison_run.a
    assert run.data.params["b_cell"] == comparison_run.b
    rate = {
        c.data.tags["roibench.cell"]: c.data.metrics["success_rate"]
        for c in client.search_runs(
            [runs.experiment_id], f"tags.`mlflow.parentRunId` = '{runs.full}'"
        )
    }
    m = run.data.metrics
    assert m["delta_success_rate"] == pytest.approx(rate[comparison_run.b] - rate[comparison_run.a])
    assert m["delta_success_rate_ci_low"] <= m["delta_success_rate"]
    assert m["delta_success_rate_ci_high"] >= m["delta_success_rate"]
    assert 0 < m["delta_success_rate_p_value"] <= 1 and m["mdd_success_rate"] > 0
    for name in (
        "delta_cost_per_outcome_usd",
        "delta_roi_outcome_pricing",
        "delta_harm_per_trial_usd",
        "delta_escalation_rate",
        "delta_pass_hat_k",
    ):
        assert name in m, name  # fmt: skip
    artifacts = {a.path for a in client.list_artifacts(comparison_run.run_id)}
    assert {"comparison.json", "paired_forest.png"} <= artifacts


def test_comparison_run_page_shows_the_deltas(
    comparison_run: ComparisonRun, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    server = comparison_run.runs.server
    run = MlflowClient(server.url).get_run(comparison_run.run_id)
    url = f"{server.url}/#/experiments/{run.info.experiment_id}/runs/{comparison_run.run_id}"
    text = page_text(url, tmp_path / "profile", ["delta_success_rate", "mdd_success_rate"])
    for name in ("delta_success_rate", "delta_success_rate_p_value", "mdd_success_rate"):
        assert name in text, (name, text[:3000])
    assert comparison_run.b in text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "mlflow-ui-comparison-run.png"
    shot.unlink(missing_ok=True)
    browse(url, tmp_path / "profile", budget_ms=15_000, extra=[f"--screenshot={shot}"])
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_report_paired_section_renders_in_a_browser(
    finished_runs: FinishedRuns, tmp_path: Path
) -> None:
    """`roibench report` of the full run, opened in headless Chromium from disk: the paired
    section and its forest plot render (offline: the file needs nothing else)."""
    from mlflow_server_fixture import BIN, roibench_env

    html = tmp_path / "report.html"
    out = subprocess.run(
        [str(BIN / "roibench"), "report", finished_runs.full, "--output", str(html)],
        capture_output=True, text=True, env=roibench_env(finished_runs.server.url), timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    url = html.as_uri()
    text = page_text(url, tmp_path / "profile", ["Is the difference real?"])
    assert "Is the difference real?" in text
    assert "refunds/react/sim/budget vs refunds/react/sim/frontier" in text
    assert "Paired differences with 95% intervals" in text  # the forest plot's caption
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    browse(url, tmp_path / "profile", budget_ms=15_000, extra=[f"--screenshot={shot}"])
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
