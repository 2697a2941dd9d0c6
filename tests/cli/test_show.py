"""`roibench show`: per-tier and per-task figures and one trial in full, from the journal of a
real run on the simulator, and from a run id on a real `mlflow server`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mlflow_server_fixture import FinishedRuns
from typer.testing import CliRunner

from roibench.cli.app import app
from roibench.core.outcomes import OutcomeStatus
from roibench.core.records import TrialRecord
from roibench.journal.store import iter_trials

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-m", "roibench", "run", str(REPO / "evals" / "quickstart.toml"),
         "--no-mlflow", "--limit", "12", "--trials", "2", "--out", str(out)],
        cwd=out, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (found,) = out.glob("quickstart/*/journal.jsonl")
    return found


def show(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["show", *args], env=env)


def rows(output: str, first: str) -> list[list[str]]:
    """The table rows whose first cell is `first`, as cells."""
    out = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells and cells[0] == first:
            out.append(cells)
    return out


def test_per_tier_figures_match_the_journal(journal: Path) -> None:
    trials = list(iter_trials(journal))
    cell = "refunds/react/sim/budget"
    result = show(str(journal), "--cell", cell, "--no-render")
    assert result.exit_code == 0, result.output
    mine = [t for t in trials if t.cell == cell]
    for cells in rows(result.output, cell):
        if len(cells) != 8:
            continue  # the per-task table
        _, tier, tasks, n, success, _, outcomes, loss = cells
        if tier == "injection":
            group = [t for t in mine if "inject" in t.task_id]
        else:
            group = [t for t in mine if t.tier == tier]
        assert int(n) == len(group) and int(tasks) == len({t.task_id for t in group})
        resolved = sum(t.outcome.status is OutcomeStatus.RESOLVED for t in group)
        assert success == f"{resolved / len(group):.0%}"
        counts = Counter(t.outcome.status.value for t in group)
        for status, count in counts.items():
            assert f"{count} {status}" in outcomes
        lost = sum(float(t.outcome.loss_usd) for t in group)
        assert loss == f"${lost:,.2f}"
    assert f"{len(mine)} of {len(trials)} trials in scope" in result.output


def test_renders_the_worst_trial_with_its_conversation(journal: Path) -> None:
    trials = list(iter_trials(journal))
    worst = max(trials, key=lambda t: t.outcome.loss_usd)
    assert worst.outcome.loss_usd > 0 and worst.messages
    result = show(str(journal), "--no-tasks")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"{worst.cell} · {worst.task_id} ({worst.tier}) · trial #{worst.trial}" in out
    prompt = next(m.content for m in worst.messages if m.role == "user")
    assert prompt[:60] in out
    for call in worst.tool_log:
        assert f"{call.name}(" in out
        assert call.result[:40] in out
    assert f"Grader harmful — {worst.outcome.reason}" in out
    # the worst tasks, by loss
    (top,) = rows(out.split("Worst tasks by loss")[1], worst.cell)[:1]
    assert (
        top[1]
        == max(
            {(t.cell, t.task_id) for t in trials},
            key=lambda k: sum(t.outcome.loss_usd for t in trials if (t.cell, t.task_id) == k),
        )[1]
    )


def pick(trials: list[TrialRecord], status: OutcomeStatus) -> TrialRecord:
    return next(t for t in trials if t.outcome.status is status)


def test_status_task_and_trial_filters_choose_the_trial(journal: Path) -> None:
    trials = list(iter_trials(journal))
    failed = pick(trials, OutcomeStatus.FAILED)
    result = show(
        str(journal), "--cell", failed.cell, "--task", failed.task_id, "--status", "failed",
        "--trial", str(failed.trial),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{failed.task_id} ({failed.tier}) · trial #{failed.trial}" in result.output
    assert f"Grader failed — {failed.outcome.reason}" in result.output
    assert "1 of them match --status/--trial" in result.output
    none = show(str(journal), "--task", "no-such-task")
    assert none.exit_code == 1 and "no trial matches" in none.output


def test_a_journal_without_conversations_shows_the_tool_calls(
    journal: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.jsonl"  # as journals written before messages were recorded
    with journal.open() as src, old.open("w") as dst:
        for line in src:
            obj = json.loads(line)
            if obj.get("kind") == "trial":
                del obj["trial"]["messages"], obj["trial"]["original_outcome"]
            dst.write(json.dumps(obj, separators=(",", ":")) + "\n")
    result = show(str(old), "--no-tasks")
    assert result.exit_code == 0, result.output
    assert "did not record the conversation" in result.output


def test_bad_references_exit_2(tmp_path: Path) -> None:
    missing = show(str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "journal not found" in missing.output
    store = tmp_path / "absent.db"
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
    nostore = show("0123456789abcdef0123456789abcdef", env=env)
    assert nostore.exit_code == 2
    assert "no MLflow tracking store" in nostore.output and not store.exists()


def test_run_id_and_latest_read_the_logged_journal(
    finished_runs: FinishedRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", finished_runs.server.url)
    mlflow.set_tracking_uri(finished_runs.server.url)
    try:
        by_id = show(finished_runs.full, "--no-render")
        latest = show("latest", "--no-render")
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert by_id.exit_code == 0, by_id.output
    assert f"run {finished_runs.full}" in by_id.output
    # --limit 4 --trials 2 on three cells
    assert re.search(r"24 of 24 trials in scope", by_id.output), by_id.output
    assert latest.exit_code == 0, latest.output
    assert "trials in scope" in latest.output
