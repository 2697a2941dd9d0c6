"""The minimal task of `benchmarks/minimal.py`: a plug-in workflow with one read tool and a
one-line policy. The requester asks for an order's status; the model looks the order up with
one tool call and answers — two requests per task, the shortest tool-using trial there is, so
what a benchmark of it measures is the harness's own cost.

The suite names it as `benchmarks/minimal_workflow.py:MinimalWorkflow` (a file plug-in, the
way a user's own workflow is loaded); `write_dataset` writes its tasks.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from roibench import Env, Outcome, Task, ToolError, Transcript, ValueModel, Workflow, tool

POLICY = "Look the order up with get_order, then state its status in one sentence."


class MinimalEnv(Env):
    """One order system with one read tool."""

    @tool
    def get_order(self, order_id: str) -> dict[str, Any]:
        """Look an order up: its status."""
        status = self.state["orders"].get(order_id)
        if status is None:
            raise ToolError(f"no order {order_id}")
        return {"order_id": order_id, "status": status}


class MinimalWorkflow(Workflow):
    """Order status: one lookup, one answer."""

    name = "minimal"
    description = "Look an order up and state its status (two requests per task)"
    policy = POLICY
    env = MinimalEnv
    value_model = ValueModel(
        unit="status question",
        human_cost_per_task_usd=Decimal("1.00"),
        source="benchmark placeholder (no real figure: this workflow measures overhead only)",
    )

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        """Resolved when the task's order was looked up and the reply states its status."""
        wanted = task.expected["order_id"]
        if not any(c.ok and c.args.get("order_id") == wanted for c in env.calls):
            return Outcome.failed(f"order {wanted} was not looked up")
        status = task.expected["status"]
        if status not in transcript.reply.lower():
            return Outcome.failed(f"reply does not state {status!r}")
        return Outcome.resolved()


def task_line(i: int) -> dict[str, Any]:
    """Task i of the dataset (ids and order numbers from 1)."""
    order = f"A{i:05d}"
    return {
        "id": f"m{i:05d}",
        "tier": "easy",
        "prompt": f"What is the status of order {order}?",
        "initial_state": {"orders": {order: "shipped"}},
        "expected": {"order_id": order, "status": "shipped"},
        "reference_actions": [{"tool": "get_order", "args": {"order_id": order}}],
        "reference_reply": f"Order {order} has shipped.",
        "required_facts": ["shipped"],
    }


def write_dataset(path: Path, tasks: int) -> Path:
    """Write `tasks` minimal tasks as JSONL at `path`."""
    path.write_text("".join(json.dumps(task_line(i)) + "\n" for i in range(1, tasks + 1)))
    return path
