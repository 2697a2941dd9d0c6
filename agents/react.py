"""ReAct tool calling: the model acts through tools until it answers in plain text."""

from __future__ import annotations

import operator
from typing import Annotated, Any, ClassVar, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from roibench.agent import agent_run


class ReactState(TypedDict):
    """Messages so far (appended by each node) and whether the agent is done."""

    messages: Annotated[list[dict[str, Any]], operator.add]
    done: bool


async def _model(state: ReactState, config: RunnableConfig) -> dict[str, Any]:
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
    return {"messages": [message], "done": False}


async def _tools(state: ReactState, config: RunnableConfig) -> dict[str, Any]:
    run = agent_run(config)
    return {"messages": await run.run_tool_calls(state["messages"][-1])}


# async on purpose: LangGraph runs a sync routing function in a thread executor, a thread hop
# per step that showed up as the top cost in profiles of the hot path
async def _route(state: ReactState) -> str:
    return END if state["done"] else "tools"


class ReactAgent:
    """ReAct: model -> tools -> model ... until a text answer or a budget runs out."""

    name: ClassVar[str] = "react"

    def build(self) -> Any:
        """Compile the graph."""
        graph = StateGraph(ReactState)
        graph.add_node("model", _model)
        graph.add_node("tools", _tools)
        graph.add_edge(START, "model")
        graph.add_conditional_edges("model", _route, ["tools", END])
        graph.add_edge("tools", "model")
        return graph.compile()
