"""What the simulator does, as the README states it: needless escalation only through tools
declared `@tool(escalation=True)` (never by name), with arguments from their schema; a skip
leaves out any one step, reads included; a wrong argument is another id or an amount 10% too
high or too low; the rates are the profile's; and a `provider = "local"` model pointed at a
standalone simulator gets a seed per trial, so its trials are the in-process simulator's."""

from __future__ import annotations

import ast
import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from roibench.config.suite import parse_suite
from roibench.config.tasks import Action, Task
from roibench.run.runner import Runner, plan_suite
from roibench.sim.player import ESCALATION_NOTE, SimPlayer, ToolTraits
from roibench.sim.profiles import PROFILES
from roibench.sim.server import SimServer
from roibench.workflow import Env, tool

REPO = Path(__file__).resolve().parents[2]
SEEDS = range(4000)


class PayEnv(Env):
    @tool
    def get_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Look up an invoice."""
        return self.state["invoices"][invoice_id]

    @tool(write=True)
    def pay(self, invoice_id: str, amount: float) -> str:
        """Pay an invoice."""
        return "paid"

    @tool(write=True, escalation=True)
    def hand_off(self, note: str, invoice_id: str = "") -> str:
        """Pass the invoice to the controller (declared an escalation; not named one)."""
        return "handed off"

    @tool(write=True)
    def escalate_priority(self, invoice_id: str) -> str:
        """Raise the invoice's priority: named like an escalation, but not declared one."""
        return "raised"


TASK = Task(
    id="inv-1",
    tier="medium",
    prompt="Please pay invoice INV-1001.",
    initial_state={"invoices": {"INV-1001": {"total": 200.0}, "INV-1002": {"total": 75.0}}},
    expected={},
    reference_actions=[
        Action(tool="get_invoice", args={"invoice_id": "INV-1001"}),
        Action(tool="pay", args={"invoice_id": "INV-1001", "amount": 200.0}),
    ],
    reference_reply="Paid INV-1001: $200.00.",
    required_facts=["$200.00"],
    tempting_actions=[Action(tool="pay", args={"invoice_id": "INV-1001", "amount": 400.0})],
)
SCHEMAS = {s.name: s.schema["function"]["parameters"] for s in PayEnv.tool_specs().values()}


def plans(traits: ToolTraits, profile: str = "budget") -> list[Any]:
    player = SimPlayer([TASK], traits)
    return [player.plan(TASK, PROFILES[profile], seed, SCHEMAS) for seed in SEEDS]


def test_escalation_goes_through_the_declared_tool_with_schema_arguments() -> None:
    escalations = [p for p in plans(ToolTraits.of(PayEnv)) if p.deviation == "escalate"]
    assert escalations
    for p in escalations:
        # the first reference step, then the hand-off: its required text, and the invoice id
        # the reference passes; the tool merely named "escalate..." is never called
        assert p.actions == (
            TASK.reference_actions[0],
            Action(tool="hand_off", args={"note": ESCALATION_NOTE, "invoice_id": "INV-1001"}),
        )
    every = {a.tool for p in plans(ToolTraits.of(PayEnv)) for a in p.actions}
    assert "escalate_priority" not in every


def test_no_needless_escalation_without_declared_traits() -> None:
    # a task file registered without its workflow: nothing is known to be an escalation
    assert not [p for p in plans(ToolTraits()) if p.deviation == "escalate"]


def test_a_skip_leaves_out_a_read_as_often_as_a_write() -> None:
    skipped = Counter(
        tuple(a.tool for a in p.actions)
        for p in plans(ToolTraits.of(PayEnv))
        if p.deviation == "skip"
    )
    assert set(skipped) == {("pay",), ("get_invoice",)}  # the read left out, or the write
    assert abs(skipped[("pay",)] - skipped[("get_invoice",)]) < 0.3 * sum(skipped.values())


def test_a_wrong_argument_is_another_id_or_an_amount_off_by_ten_percent_either_way() -> None:
    wrong = [
        p.actions[1].args for p in plans(ToolTraits.of(PayEnv)) if p.deviation == "wrong_argument"
    ]
    kinds = Counter(
        "over" if a["amount"] == 220.0 else "under" if a["amount"] == 180.0 else a["invoice_id"]
        for a in wrong
    )
    # 200 x 1.1 = 220 (an over-payment), 200 x 0.9 = 180; or the other invoice in the state
    assert set(kinds) == {"over", "under", "INV-1002"}, kinds
    for a in wrong:  # one argument changed at a time
        assert (a["amount"] == 200.0) != (a["invoice_id"] == "INV-1001")


def test_an_id_with_no_other_of_its_shape_is_a_near_miss() -> None:
    from roibench.sim.player import wrong_value

    alone = TASK.model_copy(update={"initial_state": {"invoices": {"INV-1001": {}}}})
    assert wrong_value(alone, "INV-1001", "invoice_id", 0.3) == "INV-1002"  # does not exist
    # another id of the same shape in the state wins over a near miss
    assert wrong_value(alone, "INV-1009", "invoice_id", 0.3) == "INV-1001"
    assert wrong_value(alone, 41, "alert_id", 0.3) == 42
    assert (
        wrong_value(alone, 7, "quantity", 0.2) == 8 and wrong_value(alone, 7, "quantity", 0.8) == 6
    )


def test_deviations_come_at_the_profiles_rates() -> None:
    # budget on a medium task (tier multiplier 1.0): tempted 0.10, needless escalation 0.10,
    # skip 0.10, wrong argument 0.08, omitted facts 0.10, so the reference 1 - 0.48 = 0.52
    counts = Counter(p.deviation for p in plans(ToolTraits.of(PayEnv)))
    expected = {
        "tempted": 0.10,
        "escalate": 0.10,
        "skip": 0.10,
        "wrong_argument": 0.08,
        "omit_facts": 0.10,
        "reference": 0.52,
    }
    for name, rate in expected.items():
        assert abs(counts[name] / len(SEEDS) - rate) < 0.02, (name, counts)


SUITE = """
name = "seeds"
seed = 5
trials = 4
workflows = [{{ name = "refunds", limit = 12 }}]
agents = ["react"]
[outcome_pricing]
price_usd = 1
[[models]]
name = "sim/budget"
provider = "{provider}"
{base_url}
"""


def test_a_local_model_on_a_standalone_simulator_varies_by_trial_like_the_sim_provider() -> None:
    from roibench.workflows.refunds import RefundsEnv  # pyright: ignore[reportMissingImports]

    sim_plan = plan_suite(parse_suite(SUITE.format(provider="sim", base_url=""), REPO / "x.toml"))
    tasks = sim_plan.cells[0].tasks
    server = SimServer(tasks, traits=ToolTraits.of(RefundsEnv)).start_in_thread()
    try:
        text = SUITE.format(provider="local", base_url=f'base_url = "{server.base_url}"')
        local_plan = plan_suite(parse_suite(text, REPO / "x.toml"))

        def outcomes(plan: Any) -> dict[tuple[str, int], tuple[str, str]]:
            records = asyncio.run(Runner(plan).run()).trials
            return {
                (r.task_id, r.trial): (r.outcome.status.value, r.outcome.reason)
                for rs in records.values()
                for r in rs
            }

        local, sim = outcomes(local_plan), outcomes(sim_plan)
    finally:
        server.stop_thread()
    assert local == sim  # the same seed per trial reached the standalone server
    by_task: dict[str, set[tuple[str, str]]] = {}
    for (task_id, _), outcome in local.items():
        by_task.setdefault(task_id, set()).add(outcome)
    assert any(len(v) > 1 for v in by_task.values())  # trials differ: pass^k is not pass^1


# --- one boundary: no simulator module imported by agents or workflows ------------------------

GUARDED = ["agents", "workflows", "roibench/agent", "roibench/workflow"]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


@pytest.mark.parametrize("folder", GUARDED)
def test_no_simulator_module_is_imported(folder: str) -> None:
    files = sorted((REPO / folder).rglob("*.py"))
    assert files
    for path in files:
        bad = [
            n
            for n in _imports(path)
            if n == "roibench.sim" or n.startswith("roibench.sim.") or n == "roibench.core.faults"
        ]
        assert not bad, (str(path.relative_to(REPO)), bad)


def test_the_boundary_test_would_see_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("from roibench.sim.tau import STOP\nimport roibench.sim\n")
    assert _imports(sample) == ["roibench.sim.tau", "roibench.sim.tau.STOP", "roibench.sim"]


def test_roibench_sim_learns_a_workflow_of_your_own() -> None:
    import subprocess
    import sys

    import httpx

    fixture = REPO / "tests" / "fixtures" / "check"
    proc = subprocess.Popen(
        [sys.executable, "-m", "roibench", "sim", "--port", "0", "--workflow",
         f"{fixture / 'expenses.py'}:ExpenseWorkflow"],
        stdout=subprocess.PIPE, text=True, cwd=fixture,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]  # "listening on http://127.0.0.1:PORT/v1"
        body = {
            "model": "sim/frontier",
            "seed": 1,
            "messages": [{"role": "user", "content": "Please decide my claim C-1."}],
            "tools": [{"type": "function", "function": {"name": "get_claim", "parameters": {}}}],
        }
        answer = httpx.post(f"{url}/chat/completions", json=body, timeout=10).json()
        call = answer["choices"][0]["message"]["tool_calls"][0]["function"]
        # good.jsonl's exp-1: the reference starts by looking the claim up
        assert call["name"] == "get_claim" and call["arguments"] == '{"claim_id": "C-1"}'
    finally:
        proc.terminate()
        proc.wait(timeout=10)
