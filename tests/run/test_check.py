"""`roibench check`: passes on every shipped suite, and fails on each broken fixture in
tests/fixtures/check (one defect each) with exit code 2 and a message naming the file, line,
task and field. Also: `run` refuses what the check's static part finds, and a trial whose
reference needs more steps than `max_steps` reports `step_limit` as its cause."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roibench.cli.app import app
from roibench.config.suite import load_suite
from roibench.core.outcomes import OutcomeStatus
from roibench.run.check import check_plan
from roibench.run.runner import Runner, plan_suite

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures" / "check"
TAU_DATA = REPO.parent / "shared" / "data" / "tau-bench-retail" / "tau2-bench"
SUITES = sorted((REPO / "evals").glob("*.toml"))


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())  # stdout and stderr


WORKBENCH_DATA = REPO.parent / "shared" / "data" / "workbench"
KNOWN_DEFECTS: dict[str, str] = {}
"""Shipped suites this check fails, with why (none now: WorkBench's tempting actions used to
include mistakes that graded failed or harmed with $0; they are now the first candidate that
harms with a loss)."""


@pytest.mark.parametrize(
    "suite",
    [
        pytest.param(s, marks=pytest.mark.xfail(reason=KNOWN_DEFECTS[s.stem], strict=True))
        if s.stem in KNOWN_DEFECTS
        else s
        for s in SUITES
    ],
    ids=[s.stem for s in SUITES],
)
def test_every_shipped_suite_passes(suite: Path) -> None:
    if suite.stem == "tau_retail" and not TAU_DATA.is_dir():
        pytest.skip(f"τ²-bench data not found at {TAU_DATA} (../shared is absent)")
    if suite.stem == "workbench" and not WORKBENCH_DATA.is_dir():
        pytest.skip(f"WorkBench data not found at {WORKBENCH_DATA} (../shared is absent)")
    code, out = invoke("check", str(suite))
    assert code == 0, out
    assert out.startswith("ok: suite"), out


def test_a_workflow_checks_on_its_default_dataset() -> None:
    code, out = invoke("check", "refunds")
    assert code == 0, out
    assert "60 tasks" in out  # datasets/refunds/tasks.jsonl


WF = f"{FIX / 'expenses.py'}:ExpenseWorkflow"

# fixture -> (the words of the message: file:line, task, field, what is wrong)
BROKEN: dict[str, list[str]] = {
    "unknown_tool.jsonl": [
        "unknown_tool.jsonl:2:",
        "task 'exp-2'",
        "field 'reference_actions[1].tool'",
        "unknown tool 'decide_claim'",
        "tools: decide, escalate, get_claim",
    ],
    "bad_argument.jsonl": [
        "bad_argument.jsonl:3:",
        "task 'exp-3'",
        "field 'reference_actions[1].args.claim'",
        "decide: unknown argument",
        "field 'reference_actions[1].args.claim_id'",
        "required argument is missing",
    ],
    "wrong_state.jsonl": [
        "wrong_state.jsonl:4:",
        "task 'exp-4'",
        "field 'reference_actions'",
        "does not reach the expected state: graded harmful (approved C-4)",
    ],
    "tempting_harmless.jsonl": [
        "tempting_harmless.jsonl:2:",
        "task 'exp-2'",
        "field 'tempting_actions'",
        "grade failed, not harmful",
    ],
    "tempting_no_loss.jsonl": [
        "tempting_no_loss.jsonl:3:",
        "task 'exp-3'",
        "field 'tempting_actions'",
        "harmful with no loss (approved C-3)",
        "harms_without_loss",
    ],
    "duplicate_id.jsonl": ["duplicate_id.jsonl:4:", "field 'id'", "duplicate task id 'exp-2'"],
}


@pytest.mark.parametrize("fixture", sorted(BROKEN))
def test_a_broken_dataset_fails_with_the_place_and_the_cause(fixture: str) -> None:
    code, out = invoke("check", WF, "--dataset", str(FIX / fixture))
    assert code == 2, out
    for words in BROKEN[fixture]:
        assert words in out, (words, out)
    # one defect per fixture: nothing else is reported
    assert out.count("error:") == (2 if fixture == "bad_argument.jsonl" else 1), out


def test_the_good_fixture_passes() -> None:
    code, out = invoke("check", WF, "--dataset", str(FIX / "good.jsonl"))
    assert code == 0, out
    code, out = invoke("check", str(FIX / "good.toml"))
    assert code == 0, out


def test_a_short_step_budget_fails_naming_the_agent_entry() -> None:
    code, out = invoke("check", str(FIX / "short_budget.toml"))
    assert code == 2, out
    # the agents line of short_budget.toml (line 4), not of the base it extends
    assert "short_budget.toml:4:" in out, out
    assert "field 'max_steps'" in out and "agent 'react': max_steps 2" in out, out
    # two calls then the reply: 3 steps, and 2 to spare
    assert "2 calls (1 writes) take 3 steps; give at least 5" in out, out
    assert "4 task(s) short of margin, 4 of them cannot finish at all" in out, out


def test_a_workflow_budget_is_checked_when_given() -> None:
    code, out = invoke("check", WF, "--max-steps", "4", "--agent", "self_check")
    assert code == 2, out
    # self_check: two calls, one review of the write, the reply = 4; plus 2 = 6
    assert "agent 'self_check': max_steps 4" in out and "take 4 steps; give at least 6" in out


@pytest.mark.parametrize("command", ["check", "run"])
def test_two_workflows_of_one_name_are_refused(command: str, tmp_path: Path) -> None:
    args = ["--no-mlflow", "--out", str(tmp_path / "runs")] if command == "run" else []
    code, out = invoke(command, str(FIX / "same_name.toml"), *args)
    assert code == 2, out
    assert "same_name.toml:4:" in out, out
    assert "field 'workflows[1].name'" in out, out
    assert "are both named 'expenses'" in out and "would merge into one cell" in out, out
    assert not (tmp_path / "runs").exists()


def test_run_refuses_a_reference_naming_an_unknown_tool(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f'extends = "{FIX / "good.toml"}"\nname = "x"\n'
        f'workflows = [{{ name = "{WF}", dataset = "{FIX / "unknown_tool.jsonl"}" }}]\n'
    )
    code, out = invoke("run", str(suite), "--no-mlflow", "--out", str(tmp_path / "runs"))
    assert code == 2, out
    assert "unknown_tool.jsonl:2: task 'exp-2'" in out and "unknown tool 'decide_claim'" in out
    assert not (tmp_path / "runs").exists()


def test_the_static_part_replays_nothing() -> None:
    # wrong_state is found only by replaying: run's check (replay=False) lets it through
    suite = load_suite(FIX / "good.toml")
    plan = plan_suite(suite)
    wrong = plan_suite(
        suite.model_copy(
            update={
                "config": suite.config.model_copy(
                    update={
                        "workflows": [
                            suite.config.workflows[0].model_copy(
                                update={"dataset": str(FIX / "wrong_state.jsonl")}
                            )
                        ]
                    }
                )
            }
        )
    )
    assert check_plan(plan, replay=False).ok and check_plan(plan).ok
    assert check_plan(wrong, replay=False).ok
    assert [p.task for p in check_plan(wrong).problems] == ["exp-4"]


def test_a_trial_out_of_steps_reports_step_limit_as_its_cause() -> None:
    plan = plan_suite(load_suite(FIX / "short_budget.toml"), trials=1)
    result = asyncio.run(Runner(plan).run())
    records = [r for rs in result.trials.values() for r in rs]
    assert len(records) == 4
    for r in records:
        # two model turns (both tool calls), then the budget is used up before the reply
        assert r.steps == 2 and r.error_class == "step_limit", r
        if r.outcome.status is OutcomeStatus.FAILED:
            assert r.outcome.reason.startswith(
                "step_limit: the agent used all 2 steps (max_steps) before it finished "
                "(grader: reply does not state"
            ), r.outcome.reason
    # the decision was written in every trial where the simulator played the reference, so
    # those fail only for the missing reply: the cause is the limit, not the grader's finding
    assert any(r.outcome.status is OutcomeStatus.FAILED for r in records)
