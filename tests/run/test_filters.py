"""`roibench run --workflow/--agent/--model/--task/--tier`: the plan keeps exactly the cells
and tasks asked for, the journal records the filter and every later command rebuilds the same
part of the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from roibench.config.suite import load_suite
from roibench.core.errors import InputError
from roibench.journal.store import iter_trials
from roibench.results.summary import tally_journal
from roibench.run.filters import PlanFilter, filter_plan
from roibench.run.plan import plan_from_spec, read_run_spec
from roibench.run.runner import RunPlan, plan_suite

REPO = Path(__file__).resolve().parents[2]
VERTICALS = REPO / "evals" / "verticals.toml"


def plan(flt: PlanFilter) -> RunPlan:
    return filter_plan(plan_suite(load_suite(VERTICALS)), flt)


def test_cells_by_workflow_agent_and_model() -> None:
    p = plan(PlanFilter(workflows=("claims",), agents=("react", "self_check"),
                        models=("sim/budget",)))  # fmt: skip
    assert [c.label for c in p.cells] == ["claims/react/sim/budget", "claims/self_check/sim/budget"]
    full = plan(PlanFilter())
    assert len(full.cells) == 45  # 5 workflows x 3 agents x 3 models, untouched


def test_tasks_by_tier_and_pattern() -> None:
    p = plan(PlanFilter(tiers=("adversarial",), tasks=("*-inject-*",)))
    # only the workflows that have injection tasks among their adversarial ones, all of them
    ids = {c.workflow.name: {t.id for t in c.tasks} for c in p.cells}
    assert ids["refunds"] == {f"refunds-adversarial-inject-{i}" for i in range(1, 5)}
    assert all(t.tier == "adversarial" and "-inject-" in t.id for c in p.cells for t in c.tasks)
    assert {c.workflow.name for c in p.cells} == {
        "refunds", "accounts_payable", "claims", "kyc_aml", "it_helpdesk",
    }  # fmt: skip
    assert p.total_trials == 2 * 9 * (4 + 4 + 4 + 6 + 4)  # trials x (agents x models) x tasks


@pytest.mark.parametrize(
    ("flt", "option"),
    [
        (PlanFilter(workflows=("nope",)), "--workflow"),
        (PlanFilter(agents=("nope",)), "--agent"),
        (PlanFilter(models=("sim/nope",)), "--model"),
        (PlanFilter(tiers=("impossible",)), "--tier"),
        (PlanFilter(tasks=("zzz-*",)), "--task"),
    ],
)
def test_bad_filters_name_the_option(flt: PlanFilter, option: str) -> None:
    with pytest.raises(InputError) as bad:
        plan(flt)
    assert bad.value.field == option


def test_journal_records_the_filter(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    args = [sys.executable, "-m", "roibench", "run", str(REPO / "evals" / "quickstart.toml"),
            "--no-mlflow", "--out", str(tmp_path), "--trials", "1", "--model", "sim/budget",
            "--tier", "hard", "--task", "refunds-hard-*"]  # fmt: skip
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (journal,) = tmp_path.glob("quickstart/*/journal.jsonl")
    trials = list(iter_trials(journal))
    assert {t.cell for t in trials} == {"refunds/react/sim/budget"}
    assert {t.tier for t in trials} == {"hard"} and len(trials) == 10  # the 10 hard tasks
    # the RunSpec records the cells and tasks that ran; a resume plans exactly those
    spec = read_run_spec(journal)
    assert [c.label for c in spec.cells] == ["refunds/react/sim/budget"]
    assert set(spec.cells[0].workflow.task_ids) == {t.task_id for t in trials}
    rebuilt = plan_from_spec(spec, journal)
    assert [c.label for c in rebuilt.cells] == ["refunds/react/sim/budget"]
    assert {t.id for t in rebuilt.cells[0].tasks} == {t.task_id for t in trials}
    tallies, scan = tally_journal(spec, journal)
    assert scan.trials == 10 and list(tallies) == ["refunds/react/sim/budget"]
    resumed = subprocess.run([*args[:4], "--resume", str(journal), *args[4:]], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 2 and "no filters" in resumed.stderr
