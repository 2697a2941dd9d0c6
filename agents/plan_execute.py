"""Plan-and-execute: the model first writes a numbered plan (no tools), then an executor loop
carries it out one tool-call turn per step, and a replanner revises the plan when a tool
returns an error or the plan runs out before the request is answered.

Every LLM call (plan, act, replan) counts as a step against `AgentRun.max_steps`; the token
budget covers all of them.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, ClassVar, Required, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from roibench.agent import AgentRun, agent_run, parse_plan, plan_request


class PlanExecuteState(TypedDict, total=False):
    """Messages (appended by each node), the current plan and where the executor is in it."""

    messages: Required[Annotated[list[dict[str, Any]], operator.add]]
    done: bool
    plan: list[str]
    step: int
    replans: int
    replan_reason: str


def _stop_if_over_budget(run: AgentRun) -> bool:
    stop = run.over_budget()
    if stop is not None:
        run.stop_reason = stop
        return True
    return False


async def _make_plan(
    state: PlanExecuteState, run: AgentRun, situation: str
) -> tuple[list[dict[str, Any]], list[str]]:
    request = plan_request(run.tools, situation)
    message = await run.llm.complete([*state["messages"], request], [], role="planner")
    run.steps += 1
    steps = parse_plan(message.get("content") or "")
    return [request, {"role": "assistant", "content": message.get("content") or ""}], steps


async def _plan(state: PlanExecuteState, config: RunnableConfig) -> dict[str, Any]:
    run = agent_run(config)
    if _stop_if_over_budget(run):
        return {"done": True}
    messages, steps = await _make_plan(state, run, "")
    run.extra["plans"] = [steps]
    return {"messages": messages, "plan": steps, "step": 0, "replans": 0, "replan_reason": ""}


async def _replan(state: PlanExecuteState, config: RunnableConfig) -> dict[str, Any]:
    run = agent_run(config)
    if _stop_if_over_budget(run):
        return {"done": True}
    messages, steps = await _make_plan(state, run, state.get("replan_reason", ""))
    run.extra.setdefault("plans", []).append(steps)
    return {
        "messages": messages,
        "plan": steps,
        "step": 0,
        "replans": state.get("replans", 0) + 1,
        "replan_reason": "",
    }


async def _act(state: PlanExecuteState, config: RunnableConfig) -> dict[str, Any]:
    run = agent_run(config)
    if _stop_if_over_budget(run):
        return {"done": True}
    plan = state.get("plan") or []
    step = state.get("step", 0)
    if step < len(plan):
        note = f"Carry out step {step + 1} of {len(plan)} of your plan now: {plan[step]}"
    else:
        note = "Your plan is complete: give the requester your final answer now."
    message = await run.llm.complete(
        [*state["messages"], {"role": "user", "content": note}], run.tools
    )
    run.steps += 1
    if not message.get("tool_calls"):
        run.reply = message.get("content") or ""
        return {"messages": [message], "done": True}
    return {"messages": [message], "done": False}


async def _tools(state: PlanExecuteState, config: RunnableConfig) -> dict[str, Any]:
    run = agent_run(config)
    before = len(run.env.calls)
    results = await run.run_tool_calls(state["messages"][-1])
    failed = [c for c in run.env.calls[before:] if not c.ok]
    step = state.get("step", 0) + 1
    reason = ""
    if failed:
        reason = f"step {step} failed: {failed[0].name} returned {failed[0].result[:300]}"
    elif step >= len(state.get("plan") or []):
        reason = "every step of the plan is done but the request is not answered yet"
    return {"messages": results, "step": step, "replan_reason": reason}


async def _after_act(state: PlanExecuteState) -> str:
    return END if state.get("done") else "tools"


async def _after_replan_or_plan(state: PlanExecuteState) -> str:
    return END if state.get("done") else "act"


class PlanExecuteAgent:
    """Plan -> act (one tool turn per plan step) -> replan on a tool error or an exhausted
    plan, at most `max_replans` times -> ... until a text answer or a budget runs out."""

    name: ClassVar[str] = "plan_execute"
    max_replans: int = 2

    def __init__(self, max_replans: int = 2) -> None:
        self.max_replans = max_replans

    def steps_for(self, calls: int, writes: int) -> int:
        """The plan, one turn per call, the reply (no replan when every step succeeds)."""
        del writes
        return calls + 2

    def build(self) -> Any:
        """Compile the graph."""
        max_replans = self.max_replans

        async def after_tools(state: PlanExecuteState) -> str:
            if state.get("replan_reason") and state.get("replans", 0) < max_replans:
                return "replan"
            return "act"

        graph = StateGraph(PlanExecuteState)
        graph.add_node("plan", _plan)
        graph.add_node("act", _act)
        graph.add_node("tools", _tools)
        graph.add_node("replan", _replan)
        graph.add_edge(START, "plan")
        graph.add_conditional_edges("plan", _after_replan_or_plan, ["act", END])
        graph.add_conditional_edges("act", _after_act, ["tools", END])
        graph.add_conditional_edges("tools", after_tools, ["replan", "act"])
        graph.add_conditional_edges("replan", _after_replan_or_plan, ["act", END])
        return graph.compile()
