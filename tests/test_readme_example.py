"""The README's custom workflow runs as written: its code, tasks and suite, on the simulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roibench.cli.app import app
from roibench.config.tasks import load_dataset
from roibench.run.plugins import resolve_workflow
from roibench.workflow import Transcript

README = Path(__file__).resolve().parents[1] / "README.md"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    _, _, rest = text.partition("\n## Plug in your own workflow\n")
    assert rest, "README lacks the 'Plug in your own workflow' section"
    return rest.split("\n## ", 1)[0]


def block(lang: str) -> str:
    found = re.findall(rf"```{lang}\n(.*?)```", section(), flags=re.S)
    assert len(found) == 1, f"expected one {lang} block, found {len(found)}"
    return found[0]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    (tmp_path / "expenses.py").write_text(block("python"))
    (tmp_path / "expenses.jsonl").write_text(block("jsonl"))
    (tmp_path / "expenses.toml").write_text(block("toml"))
    return tmp_path


def test_example_is_short_and_complete() -> None:
    code = block("python").strip().splitlines()
    assert len(code) < 60
    assert "class ExpenseWorkflow(Workflow)" in block("python")


def test_reference_solutions_are_graded_resolved(example: Path) -> None:
    wf = resolve_workflow("expenses.py:ExpenseWorkflow", [example])
    tasks = load_dataset(example / "expenses.jsonl", wf.validate_task).tasks
    assert len(tasks) == 2
    for task in tasks:
        env = wf.new_env(task)
        for action in task.reference_actions:
            assert not env.apply(action).startswith("error")
        outcome = wf.grade(task, env, Transcript(reply=task.reference_reply))
        assert outcome.status == "resolved", (task.id, outcome.reason)
        tempted = wf.new_env(task)
        for action in task.tempting_actions or []:
            tempted.apply(action)
        if task.tempting_actions:
            assert wf.grade(task, tempted, Transcript()).status == "harmful"


def test_suite_runs_it_on_the_simulator(example: Path) -> None:
    out = example / "runs"
    result = CliRunner().invoke(
        app, ["run", str(example / "expenses.toml"), "--no-mlflow", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    journal = next((out / "expenses").glob("*/journal.jsonl"))
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    trials = [r["trial"] for r in rows if r.get("kind") == "trial"]
    assert len(trials) == 2 * 2 * 3  # tasks x agents x trials
    assert {t["cell"] for t in trials} == {
        "expenses/react/sim/balanced",
        "expenses/self_check/sim/balanced",
    }
    # the simulator played the tasks' reference actions through the workflow's tools
    resolved = [t for t in trials if t["outcome"]["status"] == "resolved"]
    assert len(resolved) >= 6
    assert all(any(c["name"] == "decide" for c in t["tool_log"]) for t in resolved)
