"""An agent's stop reason is part of the error taxonomy: a known one is recorded as its class,
one outside the taxonomy is rejected with a message that names the allowed reasons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from roibench.core.records import ErrorClass

AGENT = """
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from roibench import agent_run


class State(TypedDict):
    messages: list[dict[str, Any]]
    done: bool


async def give_up(state: State, config: RunnableConfig) -> dict[str, Any]:
    agent_run(config).stop_reason = "REASON"
    return {"done": True}


class Quitter:
    name = "quitter"

    def build(self) -> Any:
        graph = StateGraph(State)
        graph.add_node("give_up", give_up)
        graph.add_edge(START, "give_up")
        graph.add_edge("give_up", END)
        return graph.compile()
"""

SUITE = """\
name = "quit"
workflows = [{ name = "refunds", limit = 2 }]
agents = ["agents/quitter.py:Quitter"]
[outcome_pricing]
price_usd = 0.99
[[models]]
name = "sim/frontier"
provider = "sim"
"""


def run_with(tmp_path: Path, reason: str, exit_code: int = 0) -> list[dict]:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "quitter.py").write_text(AGENT.replace("REASON", reason))
    (tmp_path / "suite.toml").write_text(SUITE)
    out = subprocess.run(
        [sys.executable, "-m", "roibench", "run", "suite.toml", "--no-mlflow", "--out", "runs"],
        cwd=tmp_path, env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == exit_code, out.stderr[-2000:]
    journal = next((tmp_path / "runs").rglob("journal.jsonl"))
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    return [line["trial"] for line in lines if line["kind"] == "trial"]


def test_a_stop_reason_in_the_taxonomy_is_recorded(tmp_path: Path) -> None:
    trials = run_with(tmp_path, "step_limit")
    assert len(trials) == 2
    assert {t["error_class"] for t in trials} == {"step_limit"}
    assert {t["outcome"]["status"] for t in trials} == {"failed"}  # graded as usual


def test_a_stop_reason_outside_the_taxonomy_is_rejected_clearly(tmp_path: Path) -> None:
    # a bug in the agent: a harness error naming it, and the run exits 1 to say so
    trials = run_with(tmp_path, "gave_up", exit_code=1)
    assert {t["error_class"] for t in trials} == {"harness_error"}
    assert {t["outcome"]["status"] for t in trials} == {"harness_error"}
    for t in trials:
        assert "agent stop reason 'gave_up' is not in the error taxonomy" in t["outcome"]["reason"]
        assert "step_limit" in t["outcome"]["reason"]


def test_the_taxonomy_lists_what_it_allows() -> None:
    assert ErrorClass.of_stop_reason("token_limit") is ErrorClass.TOKEN_LIMIT
    assert ErrorClass.of_stop_reason("budget_exceeded") is ErrorClass.BUDGET_EXCEEDED  # old name
    with pytest.raises(ValueError, match="'nope' is not in the error taxonomy"):
        ErrorClass.of_stop_reason("nope")
