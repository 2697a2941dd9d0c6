"""τ-bench retail: conformance with τ-bench's gold hashes, the hash itself, outcome mapping, both
data layouts, both conversation modes through the real simulator, and the suite end to end.

The τ data (MIT, Sierra) is read from ../shared/data and never copied here; tests that need it
skip when it is absent. The outcome tests run on a tiny store invented below.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

# (installed from workflows/ as roibench.workflows: pyright cannot follow that mapping)
from roibench.workflows.tau_retail import (  # pyright: ignore[reportMissingImports]
    SOLO_PROMPT,
    TauRetailWorkflow,
)
from roibench.workflows.tau_retail.hashing import (  # pyright: ignore[reportMissingImports]
    IncrementalHasher,
    tau_hash,
    to_hashable,
)

from roibench.config.suite import parse_suite
from roibench.config.tasks import Action
from roibench.core.errors import InputError
from roibench.core.outcomes import OutcomeStatus
from roibench.core.records import TrialRecord
from roibench.results.summary import summarize_cell
from roibench.run.runner import Runner, plan_suite
from roibench.sim.profiles import PROFILES
from roibench.sim.tau import STOP, tau_plan
from roibench.workflow import Transcript

REPO = Path(__file__).resolve().parents[2]


def tau_dir(shared_data: Path, name: str) -> Path:
    path = shared_data / "tau-bench-retail" / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent (τ-bench data is not part of the repo)")
    return path


def workflow(root: Path, split: str = "test", **options: Any) -> TauRetailWorkflow:
    wf = TauRetailWorkflow()
    wf.configure({"split": split, **options}, user_simulator=options.get("mode") == "user_sim")
    wf.load_tasks(root)
    return wf


# -- the hash -------------------------------------------------------------------------------


def test_hash_of_a_hand_built_example() -> None:
    data = {"b": [1, {"y": 2.5, "x": "s"}], "a": {"k": None}}
    # dict items sorted by key become (key, value) tuples; lists become tuples
    text = "(('a', (('k', None),)), ('b', (1, (('x', 's'), ('y', 2.5)))))"
    assert str(to_hashable(data)) == text
    assert tau_hash(data) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert tau_hash({"s": {3, 1, 2}}) == hashlib.sha256(b"(('s', (1, 2, 3)),)").hexdigest()


def test_incremental_hash_equals_the_full_hash() -> None:
    base = {"orders": {"#2": {"n": 1}, "#1": {"n": [1.5]}}, "users": {"u": {"a": "x"}}}
    hasher = IncrementalHasher(base)
    assert hasher.digest(base, {}) == tau_hash(base)
    changed = {"orders": dict(base["orders"]), "users": {"u": {"a": "y", "b": 0.1 + 0.2}}}
    assert hasher.digest(changed, {"users": {"u"}}) == tau_hash(changed) != tau_hash(base)


# -- conformance with τ-bench ---------------------------------------------------------------


def test_gold_actions_reproduce_every_gold_hash_of_the_test_split(shared_data: Path) -> None:
    root = tau_dir(shared_data, "tau-bench")
    gold = json.loads((root / "derived" / "gold_db_hashes_test.json").read_text())
    wf = workflow(root)
    tasks = wf.load_tasks(root).tasks
    assert len(tasks) == 115 == len(gold["gold_db_hash_by_task_index"])
    assert tau_hash(wf.data.db) == gold["initial_db_hash"]
    mismatched = []
    for task in tasks:
        env = wf.new_env(task)
        env.replay(task.reference_actions)
        if env.db_hash() != gold["gold_db_hash_by_task_index"][task.id]:
            mismatched.append(task.id)
    assert mismatched == []
    # the incremental hash is the full one: check a few tasks that write different things
    for tid in ("0", "12", "64", "106"):
        task = next(t for t in tasks if t.id == tid)
        env = wf.new_env(task)
        env.replay(task.reference_actions)
        assert tau_hash(env.state) == gold["gold_db_hash_by_task_index"][tid]


@pytest.mark.parametrize(
    ("name", "split", "count"), [("tau-bench", "test", 115), ("tau2-bench", "all", 114)]
)
def test_gold_replay_grades_resolved_or_correctly_escalated(
    shared_data: Path, name: str, split: str, count: int
) -> None:
    wf = workflow(tau_dir(shared_data, name), split)
    tasks = wf.load_tasks(wf.data.root).tasks
    assert len(tasks) == count
    statuses = {}
    for task in tasks:
        env = wf.new_env(task)
        env.replay(task.reference_actions, skip=frozenset())
        reply = task.reference_reply
        outcome = wf.grade(task, env, Transcript([{"role": "assistant", "content": reply}], reply))
        statuses[task.id] = outcome.status
        if outcome.status is OutcomeStatus.ESCALATED:
            assert outcome.matches_expected
    transfers = {
        t.id
        for t in tasks
        if any(a.tool == "transfer_to_human_agents" for a in t.reference_actions)
    }
    assert len(transfers) == 4
    assert {t for t, s in statuses.items() if s is OutcomeStatus.ESCALATED} == transfers
    assert all(s is OutcomeStatus.RESOLVED for t, s in statuses.items() if t not in transfers)


# -- loaders --------------------------------------------------------------------------------


def test_both_published_layouts_load(shared_data: Path) -> None:
    tau2 = tau_dir(shared_data, "tau2-bench")
    split = json.loads((tau2 / "split_tasks.json").read_text())
    wf2 = workflow(tau2)
    ds2 = wf2.load_tasks(tau2)
    assert [t.id for t in ds2.tasks] == [str(i) for i in split["test"]] and len(ds2.tasks) == 40
    assert wf2.data.layout == "tau2" and wf2.system_prompt(ds2.tasks[0]).startswith(
        "# Retail agent policy"
    )
    assert "Reason for call:" in ds2.tasks[0].prompt
    tau = tau_dir(shared_data, "tau-bench")
    wf1 = workflow(tau)
    ds1 = wf1.load_tasks(tau)
    assert wf1.data.layout == "tau" and len(ds1.tasks) == 115 and ds1.tasks[0].id == "0"
    assert ds1.sha256 != ds2.sha256
    # same orders and products in both; τ² users carry an extra user_id field
    assert wf1.data.db["orders"] == wf2.data.db["orders"]
    u = next(iter(wf2.data.db["users"]))
    assert {k: v for k, v in wf2.data.db["users"][u].items() if k != "user_id"} == wf1.data.db[
        "users"
    ][u]


# -- a tiny store of our own for the outcome mapping ------------------------------------------


def tiny_db() -> dict[str, Any]:
    def order(uid: str, status: str, items: list[tuple[str, float]], method: str) -> dict[str, Any]:
        return {
            "order_id": "",
            "user_id": uid,
            "status": status,
            "fulfillments": [],
            "address": {
                "address1": "1 Main St",
                "address2": "",
                "city": "X",
                "state": "NY",
                "country": "USA",
                "zip": "10001",
            },
            "items": [
                {"name": "Mug", "product_id": "p1", "item_id": i, "price": p, "options": {"c": i}}
                for i, p in items
            ],
            "payment_history": [
                {
                    "transaction_type": "payment",
                    "amount": sum(p for _, p in items),
                    "payment_method_id": method,
                }
            ],
        }

    def user(
        uid: str, first: str, methods: dict[str, dict[str, Any]], orders: list[str]
    ) -> dict[str, Any]:
        return {
            "name": {"first_name": first, "last_name": "Lee"},
            "email": f"{first.lower()}@example.com",
            "address": {
                "address1": "1 Main St",
                "address2": "",
                "city": "X",
                "state": "NY",
                "country": "USA",
                "zip": "10001",
            },
            "payment_methods": methods,
            "orders": orders,
        }

    return {
        "products": {
            "p1": {
                "name": "Mug",
                "product_id": "p1",
                "variants": {
                    "i1": {
                        "item_id": "i1",
                        "options": {"c": "i1"},
                        "available": True,
                        "price": 10.0,
                    },
                    "i2": {
                        "item_id": "i2",
                        "options": {"c": "i2"},
                        "available": True,
                        "price": 12.5,
                    },
                    "i3": {
                        "item_id": "i3",
                        "options": {"c": "i3"},
                        "available": False,
                        "price": 9.0,
                    },
                },
            }
        },
        "users": {
            "ann_1": user(
                "ann_1",
                "Ann",
                {
                    "credit_card_1": {"source": "credit_card", "id": "credit_card_1"},
                    "gift_card_1": {"source": "gift_card", "id": "gift_card_1", "balance": 50.0},
                },
                ["#W1", "#W2"],
            ),
            "bob_2": user(
                "bob_2", "Bob", {"paypal_2": {"source": "paypal", "id": "paypal_2"}}, ["#W3"]
            ),
        },
        "orders": {
            "#W1": order("ann_1", "delivered", [("i1", 10.0), ("i2", 12.5)], "credit_card_1"),
            "#W2": order("ann_1", "pending", [("i1", 10.0)], "gift_card_1"),
            "#W3": order("bob_2", "delivered", [("i1", 10.0)], "paypal_2"),
        },
    }


FIND_ANN = {"name": "find_user_id_by_email", "kwargs": {"email": "ann@example.com"}}
TINY_TASKS = [
    {
        "user_id": "ann_1",
        "instruction": "You are Ann (ann@example.com). Return the mug i1 of #W1 to your card.",
        "actions": [
            FIND_ANN,
            {
                "name": "return_delivered_order_items",
                "kwargs": {
                    "order_id": "#W1",
                    "item_ids": ["i1"],
                    "payment_method_id": "credit_card_1",
                },
            },
        ],
        "outputs": ["10.0"],
        "task_index": 0,
    },
    {
        "user_id": "ann_1",
        "instruction": "You are Ann. You insist on a human agent.",
        "actions": [
            FIND_ANN,
            {"name": "transfer_to_human_agents", "kwargs": {"summary": "wants a human"}},
        ],
        "outputs": [],
        "task_index": 1,
    },
]


@pytest.fixture
def tiny(tmp_path: Path) -> TauRetailWorkflow:
    """The invented store in the τ-bench layout."""
    db = tiny_db()
    for name in ("orders", "products", "users"):
        (tmp_path / f"{name}.json").write_text(json.dumps(db[name]))
    (tmp_path / "wiki.md").write_text("# Tiny store policy\n")
    (tmp_path / "tasks_test.json").write_text(json.dumps(TINY_TASKS))
    return workflow(tmp_path)


def play(
    wf: TauRetailWorkflow, task_id: str, calls: list[tuple[str, dict[str, Any]]], reply: str = ""
) -> Any:
    task = next(t for t in wf.load_tasks(wf.data.root).tasks if t.id == task_id)
    env = wf.new_env(task)
    for name, args in calls:
        asyncio.run(env.call(name, args))
    return wf.grade(task, env, Transcript([{"role": "assistant", "content": reply}], reply)), env


FIND = ("find_user_id_by_email", {"email": "ann@example.com"})


def ret(order: str, items: list[str], method: str) -> tuple[str, dict[str, Any]]:
    return "return_delivered_order_items", {
        "order_id": order,
        "item_ids": items,
        "payment_method_id": method,
    }


def test_resolved_when_hash_and_outputs_match(tiny: TauRetailWorkflow) -> None:
    outcome, _ = play(
        tiny,
        "0",
        [FIND, ret("#W1", ["i1"], "credit_card_1")],
        "Your refund of $10.0 is on its way.",
    )
    assert outcome.status is OutcomeStatus.RESOLVED and "tau reward 1" in outcome.reason


def test_failed_when_an_output_is_missing_or_the_state_differs(tiny: TauRetailWorkflow) -> None:
    outcome, _ = play(tiny, "0", [FIND, ret("#W1", ["i1"], "credit_card_1")], "Done.")
    assert outcome.status is OutcomeStatus.FAILED and "10.0" in outcome.reason
    outcome, _ = play(tiny, "0", [FIND], "Your refund of $10.0 is on its way.")
    assert outcome.status is OutcomeStatus.FAILED and "differs" in outcome.reason
    address = {
        "user_id": "ann_1",
        "address1": "2 Elm St",
        "address2": "",
        "city": "X",
        "state": "NY",
        "country": "USA",
        "zip": "10002",
    }
    outcome, _ = play(tiny, "0", [FIND, ("modify_user_address", address)], "10.0")
    assert outcome.status is OutcomeStatus.FAILED and outcome.loss_usd == 0


def test_escalated_on_transfer(tiny: TauRetailWorkflow) -> None:
    transfer = ("transfer_to_human_agents", {"summary": "help"})
    outcome, _ = play(tiny, "0", [FIND, transfer])
    assert outcome.status is OutcomeStatus.ESCALATED and not outcome.matches_expected
    outcome, _ = play(tiny, "1", [FIND, transfer])
    assert outcome.status is OutcomeStatus.ESCALATED and outcome.matches_expected


def test_harmful_writes_with_the_measured_amount(tiny: TauRetailWorkflow) -> None:
    # over-refund: both mugs (10.0 + 12.5) instead of one (10.0) -> 12.5 too much
    outcome, _ = play(tiny, "0", [FIND, ret("#W1", ["i1", "i2"], "credit_card_1")], "10.0")
    assert outcome.status is OutcomeStatus.HARMFUL and outcome.loss_usd == Decimal("12.50")
    # the right amount to a method the gold solution does not use: 10.0 misdirected
    outcome, _ = play(tiny, "0", [FIND, ret("#W1", ["i1"], "gift_card_1")], "10.0")
    assert outcome.status is OutcomeStatus.HARMFUL and outcome.loss_usd == Decimal("10.00")
    # a cancellation nobody asked for: 10.0 back on the gift card at once (50.0 -> 60.0)
    outcome, env = play(
        tiny,
        "0",
        [FIND, ("cancel_pending_order", {"order_id": "#W2", "reason": "no longer needed"})],
    )
    assert outcome.status is OutcomeStatus.HARMFUL and outcome.loss_usd == Decimal("10.00")
    assert env.state["users"]["ann_1"]["payment_methods"]["gift_card_1"]["balance"] == 60.0
    # another customer's order
    outcome, _ = play(
        tiny,
        "0",
        [FIND, ret("#W1", ["i1"], "credit_card_1"), ret("#W3", ["i1"], "paypal_2")],
        "10.0",
    )
    assert outcome.status is OutcomeStatus.HARMFUL and "#W3" in outcome.reason
    assert outcome.loss_usd == Decimal("10.00")


def test_policy_checks_in_the_tools(tiny: TauRetailWorkflow) -> None:
    _, env = play(
        tiny, "0", [FIND, ret("#W1", ["i1"], "paypal_9"), ret("#W2", ["i1"], "gift_card_1")]
    )
    assert [c.result for c in env.calls[1:]] == [
        "error: payment method not found",
        "error: non-delivered order cannot be returned",
    ]
    modify = {
        "order_id": "#W2",
        "item_ids": ["i1"],
        "new_item_ids": ["i2"],
        "payment_method_id": "gift_card_1",
    }
    _, env = play(
        tiny, "0", [("modify_pending_order_items", modify), ("modify_pending_order_items", modify)]
    )
    assert env.calls[1].result == "error: non-pending order cannot be modified"
    order = env.state["orders"]["#W2"]
    # 12.5 - 10.0 = 2.5 paid from the gift card: 50.0 -> 47.5
    assert order["status"] == "pending (item modified)" and order["payment_history"][-1] == {
        "transaction_type": "payment",
        "amount": 2.5,
        "payment_method_id": "gift_card_1",
    }
    assert env.state["users"]["ann_1"]["payment_methods"]["gift_card_1"]["balance"] == 47.5
    assert tiny.data.db["users"]["ann_1"]["payment_methods"]["gift_card_1"]["balance"] == 50.0
    _, env = play(
        tiny,
        "0",
        [
            ("calculate", {"expression": "(10 + 12.5) * 2 / 3"}),
            ("calculate", {"expression": "__import__('os')"}),
        ],
    )
    assert env.calls[0].result == "15.0" and env.calls[1].result.startswith(
        "error: invalid characters"
    )


def test_a_tiny_tau2_directory_loads(tmp_path: Path) -> None:
    db = tiny_db()
    (tmp_path / "db.json").write_text(json.dumps(db))
    (tmp_path / "policy.md").write_text("# Tiny policy\n")
    (tmp_path / "split_tasks.json").write_text(json.dumps({"test": ["a"], "train": []}))
    task = {
        "id": "a",
        "user_scenario": {
            "instructions": {
                "reason_for_call": "Return mug i1.",
                "known_info": "You are ann@example.com.",
                "task_instructions": ".",
            }
        },
        "evaluation_criteria": {
            "actions": [
                {"name": "find_user_id_by_email", "arguments": {"email": "ann@example.com"}}
            ],
            "communicate_info": ["10.0"],
        },
    }
    (tmp_path / "tasks.json").write_text(json.dumps([task]))
    wf = workflow(tmp_path)
    (loaded,) = wf.load_tasks(tmp_path).tasks
    assert wf.data.layout == "tau2" and loaded.id == "a" and loaded.required_facts == ["10.0"]
    assert loaded.prompt == SOLO_PROMPT.format(
        instruction="Reason for call: Return mug i1.\nKnown info: You are ann@example.com."
    )
    assert loaded.initial_state["tau_task"]["user_id"] == "ann_1"
    (tmp_path / "db.json").unlink()
    with pytest.raises(InputError, match="not a τ-bench retail directory"):
        workflow(tmp_path)


def test_the_simulator_over_refund_is_graded_harmful(shared_data: Path) -> None:
    wf = workflow(tau_dir(shared_data, "tau2-bench"))
    task = next(t for t in wf.load_tasks(wf.data.root).tasks if t.tempting_actions)
    names = set(wf.env.tool_specs())
    plan = next(
        p
        for s in range(2000)
        if (p := tau_plan(task, PROFILES["budget"], s, names)).deviation == "tempted"
    )
    env = wf.new_env(task)
    env.replay(list(plan.actions))
    outcome = wf.grade(
        task, env, Transcript([{"role": "assistant", "content": plan.reply}], plan.reply)
    )
    wider = next(a for a in plan.actions if a.tool == "return_delivered_order_items")
    gold = next(
        a
        for a in task.reference_actions
        if a.tool == wider.tool and a.args["order_id"] == wider.args["order_id"]
    )
    items = wf.data.db["orders"][wider.args["order_id"]]["items"]
    extra = list(wider.args["item_ids"])
    for i in gold.args["item_ids"]:
        extra.remove(i)
    expected = sum(
        Decimal(str(next(x["price"] for x in items if x["item_id"] == i))) for i in extra
    )
    assert outcome.status is OutcomeStatus.HARMFUL and outcome.loss_usd == expected > 0


# -- conversation modes through the real HTTP simulator --------------------------------------

SUITE = """
name = "tau-modes"
seed = 3
trials = 2
concurrency = 8
agents = [{{ name = "react", max_steps = 30 }}]

[[workflows]]
name = "tau_retail"
dataset = "{root}"
limit = 3
[workflows.options]
mode = "{mode}"
{user}
[outcome_pricing]
price_usd = 0.99

[[models]]
name = "sim/frontier"
provider = "sim"
[models.price]
input_per_mtok = 3.00
cache_read_per_mtok = 3.00
output_per_mtok = 6.00
"""
USER = """
[workflows.user_model]
name = "sim/user"
provider = "sim"
model = "sim/frontier"
[workflows.user_model.price]
input_per_mtok = 1.00
cache_read_per_mtok = 1.00
output_per_mtok = 2.00
"""


def run_mode(
    tmp_path: Path, root: Path, mode: str
) -> tuple[list[TrialRecord], dict[str, float], TauRetailWorkflow]:
    text = SUITE.format(root=root, mode=mode, user=USER if mode == "user_sim" else "")
    plan = plan_suite(parse_suite(text, tmp_path / "suite.toml"))
    records = asyncio.run(Runner(plan).run()).trials["tau_retail/react/sim/frontier"]
    cell = plan.cells[0]
    summary = summarize_cell(
        cell.label, records, cell.workflow.value_model, plan.suite.config.outcome_pricing
    )
    assert isinstance(cell.workflow, TauRetailWorkflow)
    return records, summary.metrics, cell.workflow


def priced(tokens_in: int, tokens_out: int, p_in: str, p_out: str) -> Decimal:
    return (tokens_in * Decimal(p_in) + tokens_out * Decimal(p_out)) / Decimal(10**6)


def test_user_simulator_mode_prices_the_customer_apart(shared_data: Path, tmp_path: Path) -> None:
    records, m, wf = run_mode(tmp_path, tau_dir(shared_data, "tau2-bench"), "user_sim")
    assert len(records) == 6 and all(r.outcome.status is not OutcomeStatus.ERROR for r in records)
    agent = user = Decimal(0)
    user_calls = 0
    for r in records:
        roles = [c.role.value for c in r.calls]
        # the customer opens, then says ###STOP### after the agent's answer; a transfer to a
        # human ends the conversation without asking the customer (as τ-bench does)
        transferred = any(t.name == "transfer_to_human_agents" for t in r.tool_log)
        assert (
            roles.count("user_sim") == (1 if transferred else 2) and roles.count("agent") == r.steps
        )
        user_calls += roles.count("user_sim")
        for c in r.calls:
            if c.role == "user_sim":
                assert c.cost_usd == priced(
                    c.usage.input_tokens, c.usage.output_tokens, "1.00", "2.00"
                )
                user += c.cost_usd or Decimal(0)
            else:
                assert c.cost_usd == priced(
                    c.usage.input_tokens, c.usage.output_tokens, "3.00", "6.00"
                )
                agent += c.cost_usd or 0
    resolved = sum(r.outcome.status is OutcomeStatus.RESOLVED for r in records)
    assert resolved > 0
    assert any(t.name == "transfer_to_human_agents" for r in records for t in r.tool_log)  # task 12
    assert m["user_sim_requests"] == user_calls < 12
    assert m["user_sim_spend_usd"] == pytest.approx(float(user))
    assert m["spend_usd"] == pytest.approx(float(agent))
    assert m["cost_per_outcome_usd"] == pytest.approx(float(agent / resolved))
    assert m["cost_per_outcome_with_user_sim_usd"] == pytest.approx(
        float((agent + user) / resolved)
    )
    assert m["cost_per_outcome_with_user_sim_usd"] > m["cost_per_outcome_usd"]
    assert wf.mode == "user_sim" and STOP not in " ".join(r.reply for r in records)


def test_solo_mode_has_no_user_simulator(shared_data: Path, tmp_path: Path) -> None:
    records, m, wf = run_mode(tmp_path, tau_dir(shared_data, "tau2-bench"), "solo")
    assert len(records) == 6 and all(c.role == "agent" for r in records for c in r.calls)
    assert sum(r.outcome.status is OutcomeStatus.RESOLVED for r in records) > 0
    assert m["user_sim_spend_usd"] == 0 and m["user_sim_requests"] == 0
    assert m["cost_per_outcome_with_user_sim_usd"] == pytest.approx(m["cost_per_outcome_usd"])
    task = wf.load_tasks(wf.data.root).tasks[0]
    assert task.prompt.startswith("A customer sent this request.")
    assert "the request itself is that confirmation" in wf.system_prompt(task)


def test_suite_options_are_checked(shared_data: Path, tmp_path: Path) -> None:
    root = tau_dir(shared_data, "tau2-bench")
    for mode, user, message in (
        ("user_sim", "", "needs a user_model"),
        ("chat", "", "mode must be one of"),
        ("solo", USER, "has no user simulator"),
    ):
        text = SUITE.format(root=root, mode=mode, user=user)
        with pytest.raises(InputError, match=message) as info:
            plan_suite(parse_suite(text, tmp_path / "suite.toml"))
        assert info.value.field == "workflows[0].options"


# -- the suite, end to end ------------------------------------------------------------------


def test_tau_retail_suite_runs_offline_into_mlflow(
    shared_data: Path, mlflow_store: str, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    env = dict(
        os.environ,
        MLFLOW_TRACKING_URI=mlflow_store,
        COLUMNS="200",
        ROIBENCH_TAU_DIR=str(tau_dir(shared_data, "tau2-bench")),
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "roibench",
            "run",
            str(REPO / "evals" / "tau_retail.toml"),
            "--limit",
            "2",
            "--out",
            str(tmp_path / "runs"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    client = MlflowClient(tracking_uri=mlflow_store)
    exp = client.get_experiment_by_name("tau_retail")
    assert exp is not None
    children = [
        r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" in r.data.tags
    ]
    assert {c.data.tags["roibench.cell"] for c in children} == {
        f"tau_retail/react/sim/{p}" for p in ("frontier", "balanced", "budget")
    }
    for child in children:
        m = child.data.metrics
        assert m["trials"] == 8 and m["tasks"] == 2
        assert m["pass_hat_1"] >= m["pass_hat_2"] >= m["pass_hat_3"] >= m["pass_hat_4"]
        assert m["pass_hat_1"] == pytest.approx(m["success_rate"])
        assert 8 <= m["user_sim_requests"] <= 16 and m["user_sim_spend_usd"] > 0
        for name in ("roi_token_pricing", "roi_outcome_pricing", "cost_per_outcome_usd"):
            if m["success_rate"] > 0:
                assert name in m
        if m["success_rate"] > 0:
            assert m["cost_per_outcome_with_user_sim_usd"] == pytest.approx(
                (m["spend_usd"] + m["user_sim_spend_usd"]) / (m["success_rate"] * m["trials"])
            )
    # re-pricing with no options reproduces every figure: the user simulator's calls are
    # priced with its own card (recorded in the RunSpec), not the agent's
    journal = next((tmp_path / "runs").rglob("journal.jsonl"))
    again = subprocess.run(
        [sys.executable, "-m", "roibench", "reprice", str(journal)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert "differ" not in again.stderr and "warning" not in again.stderr
    from roibench.cli.reprice import reprice_journal

    logged = {c.data.tags["roibench.cell"]: c.data.metrics for c in children}
    for cell in reprice_journal(journal).cells:
        assert cell.mismatched_calls == 0
        assert cell.repriced.metrics == cell.original.metrics
        assert cell.repriced.metrics["user_sim_spend_usd"] == pytest.approx(
            logged[cell.label]["user_sim_spend_usd"], rel=1e-12
        )


def test_reference_actions_are_tau_actions(shared_data: Path) -> None:
    wf = workflow(tau_dir(shared_data, "tau2-bench"))
    task = wf.load_tasks(wf.data.root).tasks[0]
    assert all(
        isinstance(a, Action) and a.tool in wf.env.tool_specs() for a in task.reference_actions
    )
