"""An example agent: ReAct that re-reads the policy before every write action.

An agent is any object with a `name` and a `build()` that returns a compiled LangGraph graph
over {'messages': [...]}. Each node gets the trial's AgentRun from its config: `run.llm`
(complete(messages, tools) -> the assistant message; every call is recorded and priced),
`run.env` (the workflow's tools), `run.tools` (their OpenAI schemas), the budgets
(`run.over_budget()`), and `run.reply` / `run.stop_reason` to report back.
A suite names this agent "careful_react" (this file, attribute AGENT).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, ClassVar, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from roibench import agent_run

REMINDER = "Before any action that changes records, check it against every rule of the policy."


class State(TypedDict):
    """Messages so far (appended by each node) and whether the agent is done."""

    messages: Annotated[list[dict[str, Any]], operator.add]
    done: bool


async def model(state: State, config: RunnableConfig) -> dict[str, Any]:
    """One model turn; ends the graph on a text answer or when a budget is used up."""
    run = agent_run(config)
    stop = run.over_budget()
    if stop is not None:
        run.stop_reason = stop
        return {"messages": [], "done": True}
    note = {"role": "user", "content": REMINDER}
    message = await run.llm.complete([*state["messages"], note], run.tools)
    run.steps += 1
    if not message.get("tool_calls"):
        run.reply = message.get("content") or ""
        return {"messages": [message], "done": True}
    return {"messages": [message], "done": False}


async def tools(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Run the tool calls of the last message; errors go back to the model as results."""
    run = agent_run(config)
    return {"messages": await run.run_tool_calls(state["messages"][-1])}


async def route(state: State) -> str:
    """Next node: tools after a tool call, else the end. Async: LangGraph would run a sync
    routing function in a thread, a hop per step."""
    return END if state["done"] else "tools"


class CarefulReact:
    """ReAct with a policy reminder before each turn."""

    name: ClassVar[str] = "careful_react"

    def build(self) -> Any:
        """Compile the graph."""
        graph = StateGraph(State)
        graph.add_node("model", model)
        graph.add_node("tools", tools)
        graph.add_edge(START, "model")
        graph.add_conditional_edges("model", route, ["tools", END])
        graph.add_edge("tools", "model")
        return graph.compile()


AGENT = CarefulReact
