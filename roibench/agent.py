"""Agents: LangGraph graphs over a ChatModel and an Env.

An agent is built once per cell (`build()` returns a compiled graph) and invoked once per trial
with the trial's `AgentRun` in `config["configurable"]["run"]`. Its state holds OpenAI-format
messages; it stops by ending the graph, and records why in `run.stop_reason`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from langchain_core.runnables import RunnableConfig

from roibench.llm import ChatModel
from roibench.workflow import Env


@dataclass
class AgentRun:
    """What one trial gives the agent graph: model, tools, budgets; and what it reports back."""

    llm: ChatModel
    env: Env
    tools: list[dict[str, Any]]
    max_steps: int = 12
    max_tokens: int | None = None
    steps: int = 0
    stop_reason: str | None = None
    reply: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def over_budget(self) -> str | None:
        """'step_limit' or 'budget_exceeded' when a budget is used up, else None."""
        if self.steps >= self.max_steps:
            return "step_limit"
        if self.max_tokens is not None and self.llm.usage.total_tokens >= self.max_tokens:
            return "budget_exceeded"
        return None

    async def run_tool_calls(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Execute the message's tool calls in order; tool errors go back as tool results."""
        results = []
        for tc in message.get("tool_calls") or []:
            fn = tc["function"]
            content = await self.env.call(fn["name"], fn["arguments"])
            results.append({"role": "tool", "tool_call_id": tc["id"], "content": content})
        return results


def agent_run(config: RunnableConfig) -> AgentRun:
    """The trial's AgentRun from a node's config."""
    return config["configurable"]["run"]  # type: ignore[index]


@runtime_checkable
class Agent(Protocol):
    """An agent architecture: a name and a graph factory."""

    name: ClassVar[str]

    def build(self) -> Any:
        """A compiled LangGraph graph taking {'messages': [...]}."""
        ...
