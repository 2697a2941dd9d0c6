"""Agents: LangGraph graphs over a ChatModel and an Env.

An agent is built once per cell (`build()` returns a compiled graph) and invoked once per trial
with the trial's `AgentRun` in `config["configurable"]["run"]`. Its state holds OpenAI-format
messages; it stops by ending the graph, and records why in `run.stop_reason`.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from langchain_core.runnables import RunnableConfig

from roibench.model.client import ChatModel
from roibench.workflow import Env, ToolCall


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
        """'step_limit' or 'token_limit' when a budget is used up, else None. An agent should
        check it before each model call and stop; the runner enforces both budgets on every
        request anyway (a call beyond them raises `LimitReached`)."""
        if self.steps >= self.max_steps:
            return "step_limit"
        if self.max_tokens is not None and self.llm.usage.total_tokens >= self.max_tokens:
            return "token_limit"
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
    """An agent architecture: a name and a graph factory. It may also define
    `steps_for(calls, writes) -> int` (see `steps_needed`)."""

    name: ClassVar[str]

    def build(self) -> Any:
        """A compiled LangGraph graph taking {'messages': [...]}."""
        ...


def steps_needed(agent: object, calls: int, writes: int) -> int:
    """Steps (`AgentRun.steps`, counted against `max_steps`) the agent spends to make `calls`
    tool calls, `writes` of them writes, one per turn, and then reply: the agent's own
    `steps_for(calls, writes)` if it has one, else one step per call plus the reply (ReAct).
    `roibench check` compares this with `max_steps` for every task's reference solution."""
    own = getattr(agent, "steps_for", None)
    if callable(own):
        need = own(calls, writes)
        if isinstance(need, int):
            return need
    return calls + 1


# --- Planning and review requests: public helpers, and the rule the simulator recognises ------
# A real model follows them because they are plain instructions. The simulator recognises a
# request by its last user message's first line (README, "What the simulator does"), so an
# agent of your own gets the same offline behaviour by building its planner's and verifier's
# requests with `plan_request` and `action_review_request` (and reading the answers with
# `parse_plan` and `parse_verdict`). Nothing here is simulator-specific: the simulator's copy
# of the headers lives in roibench/sim/player.py and a test keeps the two equal.

PLAN_REQUEST_HEADER = "## Plan request"
"""First line of the user message asking for a plan. Sent with no `tools`; the message lists
the tools as '- name: description' lines, and the model answers with a numbered plan."""

ACTION_REVIEW_HEADER = "## Action review"
"""First line of the user message asking a verifier to review one proposed write action. The
action is on its own line as JSON {"tool": ..., "args": {...}}; sent with no `tools`; the
verifier answers starting with APPROVE or REJECT, then one sentence why."""

REJECTED_PREFIX = "REJECTED by the policy verifier:"
"""Start of the tool result returned for a write the verifier rejected (it was not executed)."""

_PLAN_LINE = re.compile(r"^\s*(?:step\s*)?(\d+)\s*[.):]\s+(.+?)\s*$", re.IGNORECASE)


def tool_catalogue(tools: list[dict[str, Any]]) -> str:
    """The tools as '- name: description' lines (for prompts sent without `tools`)."""
    lines = []
    for t in tools:
        fn = t.get("function", {})
        lines.append(f"- {fn.get('name', '')}: {fn.get('description', '')}")
    return "\n".join(lines)


def plan_request(tools: list[dict[str, Any]], situation: str = "") -> dict[str, Any]:
    """The user message asking for a numbered plan; `situation` says why a plan is revised."""
    ask = (
        "Write a revised numbered plan for the work that remains."
        if situation
        else "Before acting, write a numbered plan for handling this request."
    )
    parts = [PLAN_REQUEST_HEADER, ask]
    if situation:
        parts.append(f"Why: {situation}")
    parts += [
        "Tools you will be able to use:",
        tool_catalogue(tools),
        "One step per line as '1. ...', '2. ...'; each step is one tool call or the final "
        "reply to the requester. Follow the policy. Do not call any tool now.",
    ]
    return {"role": "user", "content": "\n".join(parts)}


def parse_plan(text: str) -> list[str]:
    """The numbered steps of a plan; the whole text as one step if it has no numbered lines."""
    steps = [m.group(2) for line in text.splitlines() if (m := _PLAN_LINE.match(line))]
    if steps:
        return steps
    stripped = text.strip()
    return [stripped] if stripped else []


def action_review_request(name: str, args: Any, done: list[ToolCall]) -> dict[str, Any]:
    """The user message asking a verifier to APPROVE or REJECT one proposed write action."""
    if isinstance(args, str):
        with contextlib.suppress(json.JSONDecodeError):
            args = json.loads(args) if args.strip() else {}
    history = "\n".join(
        f"- {c.name}({json.dumps(c.args, sort_keys=True)}) -> {c.result[:300]}" for c in done
    )
    return {
        "role": "user",
        "content": "\n".join(
            [
                ACTION_REVIEW_HEADER,
                "The agent proposes this action:",
                json.dumps({"tool": name, "args": args}, sort_keys=True),
                "Tool calls already made, with their results:",
                history or "- (none)",
                "Does the policy allow this action for this request, with these arguments? "
                "Answer APPROVE or REJECT as the first word, then one sentence why.",
            ]
        ),
    }


def parse_verdict(text: str) -> tuple[bool, str]:
    """(approved, reason) from a verifier's answer. Anything but a clear APPROVE rejects."""
    stripped = text.lstrip(" \t\r\n*#>`_\"'")
    word = re.split(r"[^A-Za-z]", stripped, maxsplit=1)[0].upper()
    reason = stripped[len(word) :].lstrip(" :.-—*\n").strip() if word else stripped.strip()
    if word in ("APPROVE", "APPROVED"):
        return True, reason
    if word in ("REJECT", "REJECTED"):
        return False, reason or "the verifier rejected it"
    return False, f"the verifier gave no clear verdict ({text.strip()[:80]!r})"
