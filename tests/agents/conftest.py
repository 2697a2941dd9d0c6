"""Running one agent on one task through the real HTTP simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from roibench.agent import AgentRun
from roibench.config.tasks import Task
from roibench.core.outcomes import Outcome
from roibench.model.client import ChatModel, Endpoint
from roibench.model.providers import PRESETS
from roibench.run.plugins import resolve_workflow
from roibench.sim.player import SimPlayer, ToolTraits
from roibench.sim.profiles import PROFILES
from roibench.sim.server import SimServer
from roibench.workflow import Transcript


@dataclass
class AgentResult:
    """What a trial left behind."""

    run: AgentRun
    outcome: Outcome
    messages: list[dict[str, Any]]


async def run_agent_async(
    agent: Any,
    task: Task,
    server: SimServer,
    *,
    model: str = "sim/frontier",
    seed: int = 0,
    max_steps: int = 12,
    max_tokens: int | None = None,
) -> AgentResult:
    """One trial of `agent` on a refunds task against `server`."""
    workflow = resolve_workflow("refunds", [])
    endpoint = Endpoint.open(PRESETS["sim"], server.base_url, 4, 10.0)
    try:
        llm = ChatModel(endpoint=endpoint, model_id=model, price=None, seed=seed)
        env = workflow.new_env(task)
        run = AgentRun(
            llm=llm,
            env=env,
            tools=env.tool_schemas(),
            max_steps=max_steps,
            max_tokens=max_tokens,
        )
        messages = [
            {"role": "system", "content": workflow.system_prompt(task)},
            {"role": "user", "content": task.prompt},
        ]
        state = await agent.build().ainvoke(
            {"messages": messages, "done": False},
            config={"configurable": {"run": run}, "recursion_limit": 4 * max_steps + 10},
        )
        final = state.get("messages", messages)
        outcome = workflow.grade(task, env, Transcript(messages=final, reply=run.reply))
        return AgentResult(run=run, outcome=outcome, messages=final)
    finally:
        await endpoint.aclose()


RunAgent = Callable[..., AgentResult]


@pytest.fixture
def run_agent() -> RunAgent:
    """Synchronous wrapper: run_agent(agent, task, server, model=..., seed=..., ...)."""

    def run(agent: Any, task: Task, server: SimServer, **kwargs: Any) -> AgentResult:
        return asyncio.run(run_agent_async(agent, task, server, **kwargs))

    return run


def _seed_with(task: Task, profile: str, deviation: str, start: int = 0) -> int:
    env = resolve_workflow("refunds", []).env
    player = SimPlayer([task], ToolTraits.of(env))
    tools = set(env.tool_specs())
    for seed in range(start, start + 5000):
        if player.plan(task, PROFILES[profile], seed, tools).deviation == deviation:
            return seed
    raise AssertionError(f"no seed plays {deviation} on {task.id}")


@pytest.fixture
def seed_with() -> Callable[..., int]:
    """seed_with(task, profile, deviation): the first trial seed for which the simulator's
    seeded trial plan on a refunds task is `deviation` ('reference', 'tempted', ...)."""
    return _seed_with
