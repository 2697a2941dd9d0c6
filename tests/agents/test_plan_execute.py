"""Plan-and-execute through the real HTTP simulator on refunds tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from roibench import agent as protocol
from roibench.config.tasks import Action, Task
from roibench.core.outcomes import OutcomeStatus
from roibench.run.plugins import resolve_agent
from roibench.sim import player as sim_player
from roibench.sim.server import SimServer


def task_by_id(tasks: tuple[Task, ...], task_id: str) -> Task:
    return next(t for t in tasks if t.id == task_id)


def test_sim_speaks_the_agents_conventions() -> None:
    assert sim_player.PLAN_REQUEST_HEADER == protocol.PLAN_REQUEST_HEADER
    assert sim_player.ACTION_REVIEW_HEADER == protocol.ACTION_REVIEW_HEADER
    assert sim_player.REJECTED_PREFIX == protocol.REJECTED_PREFIX


def test_parse_plan_reads_numbered_steps() -> None:
    text = "Here is my plan:\n1. Look up the customer\n2) Get the order\nStep 3: Reply\nThanks"
    assert protocol.parse_plan(text) == ["Look up the customer", "Get the order", "Reply"]
    assert protocol.parse_plan("just do it") == ["just do it"]


def test_plans_then_executes_the_reference(
    run_agent: Callable[..., Any], sim_server: SimServer, refunds_tasks, seed_with
) -> None:
    task = task_by_id(refunds_tasks, "refunds-easy-window-1")
    seed = seed_with(task, "frontier", "reference")
    result = run_agent(resolve_agent("plan_execute", []), task, sim_server, seed=seed)

    assert result.outcome.status is OutcomeStatus.RESOLVED, result.outcome.reason
    # one planning call, one call per tool turn, one answering call
    n = len(task.reference_actions)
    assert result.run.steps == len(result.run.llm.calls) == n + 2
    # the planning call is recorded as the planner's, the rest as the acting agent's
    assert [c.role for c in result.run.llm.calls] == ["planner"] + ["agent"] * (n + 1)
    plan = result.run.extra["plans"][0]
    assert len(plan) == n + 1
    for step, action in zip(plan, task.reference_actions, strict=False):
        assert action.tool in step
    # the plan request went without tools and is in the transcript, answered by the plan
    request = result.messages[2]
    assert request["role"] == "user" and request["content"].startswith("## Plan request")
    assert "- issue_refund:" in request["content"]
    assert (
        result.messages[3]["role"] == "assistant"
        and "1. Call lookup_customer" in (result.messages[3]["content"])
    )
    done = [Action(tool=c.name, args=c.args) for c in result.run.env.calls]
    assert done == list(task.reference_actions)
    assert result.run.stop_reason is None


def test_step_budget_stops_after_the_plan(
    run_agent: Callable[..., Any], sim_server: SimServer, refunds_tasks
) -> None:
    task = task_by_id(refunds_tasks, "refunds-easy-window-1")
    result = run_agent(resolve_agent("plan_execute", []), task, sim_server, max_steps=1)
    assert result.run.stop_reason == "step_limit"
    assert result.run.steps == 1
    assert result.run.env.calls == []
    assert result.outcome.status is OutcomeStatus.FAILED


def test_token_budget_stops_it(
    run_agent: Callable[..., Any], sim_server: SimServer, refunds_tasks
) -> None:
    task = task_by_id(refunds_tasks, "refunds-easy-window-1")
    result = run_agent(resolve_agent("plan_execute", []), task, sim_server, max_tokens=50)
    assert result.run.stop_reason == "token_limit"
    assert result.run.llm.usage.total_tokens >= 50
    assert result.run.steps == 1


@pytest.fixture
def error_task(refunds_tasks) -> Task:
    """A refunds task whose reference solution starts with a lookup that fails."""
    base = task_by_id(refunds_tasks, "refunds-easy-window-2")
    actions = [Action(tool="get_order", args={"order_id": "O0000"}), *base.reference_actions]
    return base.model_copy(
        update={
            "id": "refunds-replan-1",
            "prompt": base.prompt + " (order number may be mistyped)",
            "reference_actions": actions,
            "tempting_actions": None,
        }
    )


@pytest.fixture
def error_server(error_task: Task) -> Iterator[SimServer]:
    server = SimServer([error_task]).start_in_thread()
    try:
        yield server
    finally:
        server.stop_thread()


def test_replans_after_a_tool_error(
    run_agent: Callable[..., Any], error_server: SimServer, error_task: Task, seed_with
) -> None:
    seed = seed_with(error_task, "frontier", "reference")
    result = run_agent(resolve_agent("plan_execute", []), error_task, error_server, seed=seed)

    plans = result.run.extra["plans"]
    assert len(plans) == 2, plans  # the first plan, then one revision after the error
    assert not result.run.env.calls[0].ok
    # the revised plan covers only what remains after the failed first call
    assert len(plans[1]) == len(error_task.reference_actions)
    assert "O0000" not in " ".join(plans[1])
    revision = [m for m in result.messages if str(m.get("content") or "").startswith("## Plan")]
    assert "step 1 failed: get_order returned error" in revision[1]["content"]
    assert result.outcome.status is OutcomeStatus.RESOLVED, result.outcome.reason
    assert result.run.steps == len(error_task.reference_actions) + 3
