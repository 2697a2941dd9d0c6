"""The bare loop of `benchmarks/minimal.py`, as its own process: `openai.AsyncOpenAI` making the
requests the roibench agent makes on the minimal task (system policy, the task's prompt, the
tools; the tool call answered with the tool's result; until the model answers in text), with
nothing else — no grading, no journal, no logging. Imports only the SDK and the standard library,
so its whole-process time is the floor a harness is compared with.

    python benchmarks/minimal_bare.py CONFIG.json

CONFIG holds url, model, policy, tools (the OpenAI `tools` parameter), dataset (the minimal
tasks' JSONL), concurrency and seeds (each task's trial seed, sent as OpenAI's `seed`, as
roibench sends it), and optionally import_langgraph: true, which imports `langgraph.graph`
first and uses nothing of it — the import any harness of LangGraph agents pays, so that the
1-task comparison can show the floor such a harness starts from. Prints one JSON line: tasks,
requests made, loop seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any


def main() -> int:
    """Run every task once and print what it did."""
    config = json.loads(Path(sys.argv[1]).read_text())
    if config.get("import_langgraph"):
        import langgraph.graph  # noqa: F401  # pyright: ignore[reportUnusedImport]
    import openai

    lines = Path(config["dataset"]).read_text().splitlines()
    tasks = [json.loads(line) for line in lines if line.strip()]
    client = openai.AsyncOpenAI(base_url=config["url"], api_key="not-needed", max_retries=0)
    work = iter(tasks)
    requests = 0

    def get_order(state: dict[str, Any], order_id: str) -> str:
        status = state["orders"].get(order_id)
        if status is None:
            return f"error: no order {order_id}"
        return json.dumps({"order_id": order_id, "status": status})

    async def worker() -> None:
        nonlocal requests
        for task in work:
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": config["policy"]},
                {"role": "user", "content": task["prompt"]},
            ]
            for _ in range(12):  # the agent's step limit
                resp = await client.chat.completions.create(
                    model=config["model"],
                    messages=messages,  # type: ignore[arg-type]
                    tools=config["tools"],
                    seed=config["seeds"][task["id"]],
                )
                requests += 1
                msg = resp.choices[0].message
                if not msg.tool_calls:
                    break
                messages.append(msg.model_dump(exclude_none=True))
                for tc in msg.tool_calls:
                    args = json.loads(tc.function.arguments)  # type: ignore[union-attr]
                    result = get_order(task["initial_state"], **args)
                    messages.append({"role": "tool", "tool_call_id": tc.id, "content": result})

    async def run() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(config["concurrency"])))
        took = time.perf_counter() - t0
        await client.close()
        return took

    loop_s = asyncio.run(run())
    print(json.dumps({"tasks": len(tasks), "requests": requests, "loop_s": loop_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
