"""ReAct tool calling: the model acts through tools until it answers in plain text."""

from __future__ import annotations

import operator
from typing import Annotated, Any, ClassVar, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from roibench.agent import agent_run


class ReactState(TypedDict):
    """Messages so far (appended by each step) and whether the agent is done."""

    messages: Annotated[list[dict[str, Any]], operator.add]
    done: bool


async def _act(state: ReactState, config: RunnableConfig) -> dict[str, Any]:
    """One ReAct step: the model's turn, then the tool calls it asked for."""
    run = agent_run(config)
    stop = run.over_budget()
    if stop is not None:
        run.stop_reason = stop
        return {"messages": [], "done": True}
    message = await run.llm.complete(state["messages"], run.tools)
    run.steps += 1
    if not message.get("tool_calls"):
        run.reply = message.get("content") or ""
        return {"messages": [message], "done": True}
    return {"messages": [message, *await run.run_tool_calls(message)], "done": False}


# async on purpose: LangGraph runs a sync routing function in a thread executor, a thread hop
# per step that showed up as the top cost in profiles of the hot path
async def _route(state: ReactState) -> str:
    return END if state["done"] else "act"


class ReactAgent:
    """ReAct: act (model turn + its tool calls) -> act ... until a text answer or a budget
    runs out."""

    name: ClassVar[str] = "react"

    def build(self) -> Any:
        """Compile the graph: one node in a loop. The model's turn and the tool calls it makes
        are one step, not two nodes: each LangGraph superstep costs ~0.3 ms of CPU, which
        at zero model latency was the largest overhead roibench added to a bare SDK loop."""
        graph = StateGraph(ReactState)
        graph.add_node("act", _act)
        graph.add_edge(START, "act")
        graph.add_conditional_edges("act", _route, ["act", END])
        return graph.compile()
