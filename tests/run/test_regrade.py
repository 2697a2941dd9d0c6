"""`roibench regrade`: an unchanged workflow reproduces every outcome exactly; a changed loss
rule changes exactly the trials it touches (computed here by hand); a value model moves only
the economics; the regraded journal reads like any other. Journals come from real runs on
the real simulator (its HTTP server on loopback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from roibench.cli.reprice import reprice_journal
from roibench.core.errors import InputError
from roibench.core.outcomes import OutcomeStatus
from roibench.core.records import TrialRecord
from roibench.journal.store import iter_trials, read_header, scan_journal
from roibench.results.summary import tally_journal
from roibench.run.plan import read_run_spec
from roibench.run.regrade import log_regrade, regrade_journal

REPO = Path(__file__).resolve().parents[2]
FLAT = f"{Path(__file__).parent / 'regrade_workflows.py'}:FlatHarmLossRefunds"
RENAMED = f"{Path(__file__).parent / 'regrade_workflows.py'}:RenamedRefunds"

MIXED_SUITE = """\
# two workflows x the three agents on the least reliable simulated profile, with faults:
# escalations, failures, harm, retries and invalid tool calls all occur
name = "regrade-mix"
seed = 11
trials = 2
concurrency = 8
workflows = [{ name = "refunds", limit = 8 }, { name = "accounts_payable", limit = 8 }]
agents = ["react", "plan_execute", "self_check"]

[outcome_pricing]
scheme = "per_resolution"
price_usd = 0.99

[[models]]
name = "sim/budget"
provider = "sim"
faults = { server_error = 0.05, malformed_tool_args = 0.05, retry_after_s = 0.0 }
[models.price]
input_per_mtok = 0.20
output_per_mtok = 1.20
source_url = "https://example.com/test-card"
"""


def run_suite(suite: Path, out: Path, *args: str) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, "-m", "roibench", "run", str(suite), "--no-mlflow", "--out", str(out),
         *args],
        cwd=out, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = sorted(out.glob("*/*/journal.jsonl"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quickstart")
    return run_suite(REPO / "evals" / "quickstart.toml", out, "--limit", "12", "--trials", "2")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mixed")
    suite = out / "mix.toml"
    suite.write_text(MIXED_SUITE, encoding="utf-8")
    return run_suite(suite, out)


def trials_of(journal: Path) -> dict[tuple[str, str, int], TrialRecord]:
    return {(t.cell, t.task_id, t.trial): t for t in iter_trials(journal)}


@pytest.mark.parametrize("which", ["quickstart", "mixed"])
def test_unchanged_workflow_reproduces_every_outcome(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    journal: Path = request.getfixturevalue(which)
    before = trials_of(journal)
    result = regrade_journal(journal, tmp_path)
    after = trials_of(result.journal)
    assert after.keys() == before.keys()
    for key, t in before.items():
        assert after[key].outcome == t.outcome, key  # status, loss, reason, matches_expected
        assert after[key].original_outcome is None
        # everything but the outcome is carried over as recorded
        assert after[key].model_dump(exclude={"outcome"}) == t.model_dump(exclude={"outcome"})
    assert result.changes == []
    assert result.diverged == []
    assert result.trials == len(before)
    for label, summary in result.original.items():
        assert result.regraded[label].metrics == summary.metrics
    if which == "mixed":  # the run really had every kind of outcome and trouble
        statuses = {t.outcome.status for t in before.values()}
        assert {OutcomeStatus.RESOLVED, OutcomeStatus.FAILED, OutcomeStatus.HARMFUL} <= statuses
        assert any(t.invalid_tool_calls for t in before.values())
        assert any(c.attempt > 0 for t in before.values() for c in t.calls)
        assert {t.agent for t in before.values()} == {"react", "plan_execute", "self_check"}


def test_changed_loss_rule_changes_exactly_the_harmful_trials(
    quickstart: Path, tmp_path: Path
) -> None:
    before = trials_of(quickstart)
    harmful = {k for k, t in before.items() if t.outcome.status is OutcomeStatus.HARMFUL}
    assert harmful, "the quickstart sample has harmful trials"
    # by hand: the rule sets every harmful trial's loss to $100; the others keep theirs
    expected_changed = {k for k in harmful if before[k].outcome.loss_usd != Decimal(100)}
    result = regrade_journal(quickstart, tmp_path, workflow=FLAT)
    after = trials_of(result.journal)
    changed = {k for k, t in after.items() if t.outcome != before[k].outcome}
    assert changed == expected_changed
    assert {(c.cell, c.task_id, c.trial) for c in result.changes} == expected_changed
    for k in expected_changed:
        new, old = after[k].outcome, before[k].outcome
        assert new.status is old.status and new.reason == old.reason
        assert new.loss_usd == Decimal(100)
        assert after[k].original_outcome == old
    for k in after.keys() - expected_changed:
        assert after[k].outcome == before[k].outcome
    # the cells' loss and net savings, by hand from the original trials
    for label, summary in result.regraded.items():
        cell_harmful = [k for k in harmful if k[0] == label]
        old_loss = sum((before[k].outcome.loss_usd for k in cell_harmful), Decimal(0))
        econ, orig = summary.economics, result.original[label].economics
        assert econ.loss_usd == Decimal(100) * len(cell_harmful)
        assert econ.counts == orig.counts
        assert orig.net_savings_outcome_usd is not None
        assert econ.net_savings_outcome_usd == orig.net_savings_outcome_usd - (
            econ.loss_usd - old_loss
        )
        assert summary.metrics["loss_usd"] == float(100 * len(cell_harmful))


def test_value_model_moves_only_the_economics(quickstart: Path, tmp_path: Path) -> None:
    vm = tmp_path / "value.toml"
    vm.write_text(
        'unit = "support ticket"\nhuman_cost_per_task_usd = 20\nrework_cost_usd = 5\n'
        'source = "a test figure"\n',
        encoding="utf-8",
    )
    before = trials_of(quickstart)
    result = regrade_journal(quickstart, tmp_path / "out", value_model=vm)
    assert result.changes == []
    for label, summary in result.regraded.items():
        n = sum(1 for k in before if k[0] == label)
        assert summary.economics.baseline_usd == Decimal(20) * n
    # the new journal's RunSpec carries it: `log`, `reprice` and `show` read it from there
    spec = read_run_spec(result.journal)
    assert {c.workflow.value_model.human_cost_per_task_usd for c in spec.cells} == {Decimal(20)}
    repriced = reprice_journal(result.journal)
    for cell in repriced.cells:
        assert cell.original.metrics == result.regraded[cell.label].metrics
    header = read_header(result.journal)
    assert header["regrade"]["value_model_file"] == str(vm.resolve())
    original = read_run_spec(quickstart)
    assert spec.suite == original.suite and spec.started_at == original.started_at  # kept
    assert spec.run_key != original.run_key  # logged as a run of its own, never over it


def test_regrading_a_regrade_keeps_its_value_model(quickstart: Path, tmp_path: Path) -> None:
    vm = tmp_path / "value.json"
    vm.write_text(
        json.dumps({"refunds": {"unit": "t", "human_cost_per_task_usd": 3, "source": "x"}}),
        encoding="utf-8",
    )
    first = regrade_journal(quickstart, tmp_path / "a", value_model=vm)
    second = regrade_journal(first.journal, tmp_path / "b", workflow=FLAT)
    for summary in second.regraded.values():
        assert summary.economics.baseline_usd == Decimal(3) * summary.economics.counts.total
    header = read_header(second.journal)
    assert header["regrade"]["original_run_name"] == read_run_spec(quickstart).run_name
    assert header["regrade"]["from_journal"] == str(first.journal.resolve())


def test_renamed_workflow_relabels_the_cells(quickstart: Path, tmp_path: Path) -> None:
    result = regrade_journal(quickstart, tmp_path, workflow=RENAMED)
    cells = {t.cell for t in iter_trials(result.journal)}
    assert cells == {label.replace("refunds/", "refunds_v2/") for label in result.original}
    assert result.changes == []
    # every other command reads the same cells from the regraded journal
    spec = read_run_spec(result.journal)
    tallies, scan = tally_journal(spec, result.journal)
    assert set(tallies) == cells and scan.trials == result.trials
    assert {c.workflow.name for c in spec.cells} == {"refunds_v2"}
    # and a regrade of it finds the renamed workflow again
    again = regrade_journal(result.journal, tmp_path / "again")
    assert again.changes == [] and {t.cell for t in iter_trials(again.journal)} == cells


def test_bad_inputs_name_the_place_and_write_nothing(mixed: Path, tmp_path: Path) -> None:
    vm = tmp_path / "value.toml"
    vm.write_text('unit = "t"\nhuman_cost_per_task_usd = 3\nsource = "x"\ncolour = 1\n')
    with pytest.raises(InputError) as bad:
        regrade_journal(mixed, tmp_path / "out", value_model=vm)
    assert f"{vm}:4" in str(bad.value) and "colour" in str(bad.value)
    # a workflow of another name cannot replace one of two workflows
    with pytest.raises(InputError, match="refunds_v2"):
        regrade_journal(mixed, tmp_path / "out", workflow=RENAMED)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.jsonl*"))
    cli = subprocess.run(
        [sys.executable, "-m", "roibench", "regrade", str(mixed), "--value-model", str(vm),
         "--no-mlflow", "--out", str(tmp_path / "cli")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 2 and f"{vm}:4" in cli.stderr, cli.stderr


def test_cli_lists_differences_and_logs_a_tagged_run(
    quickstart: Path, tmp_path: Path, mlflow_store: str
) -> None:
    from mlflow.tracking import MlflowClient

    env = dict(os.environ, MLFLOW_TRACKING_URI=mlflow_store, COLUMNS="200")
    logged = subprocess.run(
        [sys.executable, "-m", "roibench", "log", str(quickstart), "--no-trace"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert logged.returncode == 0, logged.stderr[-2000:]
    client = MlflowClient(mlflow_store)
    exp = client.get_experiment_by_name("quickstart")
    assert exp is not None
    (original,) = [
        r for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("roibench.role") == "suite"
    ]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "roibench", "regrade", str(quickstart), "--workflow", FLAT,
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    before = trials_of(quickstart)
    changed = [
        k for k, t in before.items()
        if t.outcome.status is OutcomeStatus.HARMFUL and t.outcome.loss_usd != 100
    ]  # fmt: skip
    assert f"Outcomes changed: {len(changed)} of {len(before)} trials" in out.stdout
    for cell, task, _ in changed:
        assert task in out.stdout and cell in out.stdout
    assert f"roibench.regraded_from={original.info.run_id}" in out.stdout
    runs = client.search_runs(
        [exp.experiment_id], f"tags.`roibench.regraded_from` = '{original.info.run_id}'"
    )
    parents = [r for r in runs if r.data.tags.get("roibench.role") == "suite"]
    children = [r for r in runs if r.data.tags.get("roibench.role") == "cell"]
    assert len(parents) == 1 and len(children) == 3
    pid = parents[0].info.run_id
    assert parents[0].data.tags["roibench.regrade_changed_trials"] == str(len(changed))
    for child in children:
        label = child.data.tags["roibench.cell"]
        harmful = sum(
            1 for k, t in before.items()
            if k[0] == label and t.outcome.status is OutcomeStatus.HARMFUL
        )  # fmt: skip
        assert child.data.metrics["loss_usd"] == pytest.approx(100.0 * harmful)
    path = client.download_artifacts(pid, "regrade/differences.json", str(tmp_path))
    diff = json.loads(Path(path).read_text())
    assert {(d["cell"], d["task_id"], d["trial"]) for d in diff["changed"]} == set(changed)
    assert all(d["after"]["loss_usd"] == "100" for d in diff["changed"])
    # the regraded run's journal is its artifact: `show RUN_ID` reads it back
    shown = subprocess.run(
        [sys.executable, "-m", "roibench", "show", pid, "--status", "harmful", "--no-tasks"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "regraded: first graded harmful" in shown.stdout


def test_log_regrade_without_a_store_says_so(quickstart: Path, tmp_path: Path) -> None:
    result = regrade_journal(quickstart, tmp_path)
    import mlflow

    mlflow.set_tracking_uri("http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        logged = log_regrade(result)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert logged.run_id is None and logged.error
    # the run the original journal was logged as (its 'logged' line), else its path
    assert logged.origin == (scan_journal(quickstart).mlflow_run_id or str(quickstart.resolve()))
    assert scan_journal(result.journal).mlflow_run_id is None  # that line is not copied
