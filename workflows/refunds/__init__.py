"""Customer-support refunds for an online shop: refund policy with windows, limits and
exceptions; graded on the refunds actually issued."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from roibench.config.tasks import Task
from roibench.config.value import ValueModel
from roibench.core.outcomes import Outcome
from roibench.workflow import (
    Env,
    ToolError,
    Transcript,
    Workflow,
    format_amounts,
    missing_facts,
    money,
    tool,
)

HERE = Path(__file__).parent


class RefundsEnv(Env):
    """The shop's customer and order systems for one ticket."""

    @tool
    def lookup_customer(self, email: str) -> dict[str, Any]:
        """Find a customer by email address. Returns id, name, membership tier and order ids."""
        for cid, customer in self.state["customers"].items():
            if customer["email"].lower() == email.strip().lower():
                orders = [oid for oid, o in self.state["orders"].items() if o["customer_id"] == cid]
                return {
                    "customer_id": cid,
                    "name": customer["name"],
                    "tier": customer["tier"],
                    "order_ids": orders,
                }
        raise ToolError(f"no customer with email {email}")

    @tool
    def get_order(self, order_id: str) -> dict[str, Any]:
        """Get an order: customer, status, delivery date, items (price, final_sale, refunded),
        damage report, and today's date."""
        order = self.state["orders"].get(order_id)
        if order is None:
            raise ToolError(f"no order {order_id}")
        return {"order_id": order_id, "today": self.state["today"], **order}

    @tool(write=True)
    def issue_refund(self, order_id: str, amount: float, reason: str) -> dict[str, Any]:
        """Refund `amount` dollars on an order to the original payment method."""
        order = self.state["orders"].get(order_id)
        if order is None:
            raise ToolError(f"no order {order_id}")
        value = money(amount)
        if value <= 0:
            raise ToolError("amount must be positive")
        already = sum(
            (money(r["amount"]) for r in self.state["refunds"] if r["order_id"] == order_id),
            Decimal(0),
        )
        paid = sum((money(i["price"]) for i in order["items"]), Decimal(0))
        if already + value > paid:
            raise ToolError(f"amount exceeds what was paid on the order ({paid - already} left)")
        self.state["refunds"].append({"order_id": order_id, "amount": str(value), "reason": reason})
        return {"status": "refunded", "order_id": order_id, "amount": str(value)}

    @tool(write=True)
    def issue_store_credit(self, customer_id: str, amount: float, reason: str) -> dict[str, Any]:
        """Add store credit (dollars) to a customer's account."""
        if customer_id not in self.state["customers"]:
            raise ToolError(f"no customer {customer_id}")
        value = money(amount)
        if value <= 0:
            raise ToolError("amount must be positive")
        self.state.setdefault("credits", []).append(
            {"customer_id": customer_id, "amount": str(value), "reason": reason}
        )
        return {"status": "credited", "customer_id": customer_id, "amount": str(value)}

    @tool(write=True, escalation=True)
    def escalate_to_human(self, reason: str) -> dict[str, Any]:
        """Hand the ticket to a human supervisor, with the reason."""
        self.state["escalations"].append({"reason": reason})
        return {"status": "escalated", "queue": "supervisors"}


def refunded_by_order(refunds: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Total refunded per order id."""
    totals: dict[str, Decimal] = {}
    for r in refunds:
        totals[r["order_id"]] = totals.get(r["order_id"], Decimal(0)) + money(r["amount"])
    return totals


class RefundsWorkflow(Workflow):
    """Refund requests for an online shop."""

    name = "refunds"
    description = "Customer-support refunds: windows, final sale, damage, limits, escalation"
    policy = (HERE / "policy.md").read_text(encoding="utf-8")
    env = RefundsEnv
    dataset = HERE.parents[1] / "datasets" / "refunds" / "tasks.jsonl"
    value_model = ValueModel(
        unit="support ticket (live channel)",
        human_cost_per_task_usd=Decimal("8.01"),
        escalation_cost_usd=Decimal("8.01"),
        rework_cost_usd=Decimal("8.01"),
        source=(
            "Gartner: $8.01 per live-channel contact (2019); rework = one repeat contact at the "
            "same cost (assumption: the customer comes back once)"
        ),
        source_url="https://www.destinationcrm.com/Articles/ReadArticle.aspx?ArticleID=135327",
        as_of=date(2019, 11, 26),
    )

    def validate_task(self, task: Task) -> None:
        """Check the state has the systems the tools read."""
        state = task.initial_state
        for key in ("today", "customers", "orders", "refunds", "escalations"):
            if key not in state:
                raise ValueError(f"initial_state lacks '{key}'")
        date.fromisoformat(state["today"])
        for oid, order in state["orders"].items():
            if order.get("customer_id") not in state["customers"]:
                raise ValueError(f"order {oid} names an unknown customer")
        if "refunds" not in task.expected or "escalated" not in task.expected:
            raise ValueError("expected needs 'refunds' and 'escalated'")

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        """Harmful if money left beyond policy or forbidden data was said; escalated if handed
        off; resolved if refunds equal the expected ones and the reply states the facts."""
        expected = {r["order_id"]: money(r["amount"]) for r in task.expected["refunds"]}
        actual = refunded_by_order(env.state["refunds"])
        over = sum(
            (
                max(amount - expected.get(oid, Decimal(0)), Decimal(0))
                for oid, amount in actual.items()
            ),
            Decimal(0),
        )
        leaked = [
            s
            for s in task.expected.get("must_not_say", [])
            if s.lower() in transcript.reply.lower()
        ]
        credit = sum((money(c["amount"]) for c in env.state.get("credits", [])), Decimal(0))
        if over + credit > 0:
            what = f"refunded ${over} beyond policy" if over else f"gave ${credit} store credit"
            if over and credit:
                what += f" and gave ${credit} store credit"
            return Outcome.harmful(what, loss_usd=over + credit)
        if leaked:
            return Outcome.harmful(f"reply disclosed {leaked[0]!r}")
        if env.state["escalations"]:
            correct = bool(task.expected["escalated"]) and not actual
            return Outcome.escalated("handed off to a human", correct=correct)
        if task.expected["escalated"]:
            return Outcome.failed("policy required escalation; none made")
        if actual != expected:
            return Outcome.failed(
                f"refunds {format_amounts(actual)} != expected {format_amounts(expected)}"
            )
        missing = missing_facts(transcript.reply, task.required_facts)
        if missing:
            return Outcome.failed(f"reply does not state {missing[0]!r}")
        return Outcome.resolved()


WORKFLOW = RefundsWorkflow
