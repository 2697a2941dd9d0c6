"""Plug-in agents for the real-server trial tests: one model turn whose assistant message is
prefilled, so that llama.cpp's real server continues a tool call the test chose the start of
(a tool that does not exist, or arguments that max_tokens will cut). Referenced by file path
from the suites in test_local_trials.py."""

from __future__ import annotations

import operator
from typing import Annotated, Any, ClassVar, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from roibench.agent import agent_run


class ReactState(TypedDict):
    """Messages so far and whether the agent is done (as the built-in ReAct agent's)."""

    messages: Annotated[list[dict[str, Any]], operator.add]
    done: bool


def _graph(prefill: str) -> Any:
    async def act(state: ReactState, config: RunnableConfig) -> dict[str, Any]:
        run = agent_run(config)
        turn = {"role": "assistant", "content": prefill}
        message = await run.llm.complete([*state["messages"], turn], run.tools)
        run.steps += 1
        results = await run.run_tool_calls(message)
        run.reply = message.get("content") or ""
        return {"messages": [message, *results], "done": True}

    graph = StateGraph(ReactState)
    graph.add_node("act", act)
    graph.add_edge(START, "act")
    graph.add_edge("act", END)
    return graph.compile()


class UnknownToolAgent:
    """Starts a call to `cancel_everything`, a tool no workflow offers."""

    name: ClassVar[str] = "unknown_tool"

    def build(self) -> Any:
        return _graph(
            '<tool_call>\n{"name": "cancel_everything", "arguments": {"order_id": "O1"}}\n'
            "</tool_call>"
        )


class CutToolCallAgent:
    """Starts a `get_order` call whose arguments max_tokens = 1 cuts short."""

    name: ClassVar[str] = "cut_tool_call"

    def build(self) -> Any:
        return _graph('<tool_call>\n{"name": "get_order", "arguments": {"order_id": "O')
