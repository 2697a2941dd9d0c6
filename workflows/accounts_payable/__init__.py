"""Accounts payable: invoice intake, three-way match (purchase order, goods receipt, invoice),
duplicate detection and tolerance rules; graded on the invoices' end states and the payments
actually scheduled."""

from __future__ import annotations

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
    grade_decisions,
    money,
    tool,
)

HERE = Path(__file__).parent
APPROVAL_LIMIT = Decimal("25000.00")
"""Policy rule 7: invoices above this total need the controller."""
STATUSES = ("received", "approved", "scheduled", "paid", "held", "rejected")


class AccountsPayableEnv(Env):
    """The ERP's vendor master, purchasing, receiving and payables for one invoice."""

    def _invoice(self, invoice_id: str) -> dict[str, Any]:
        invoice = self.state["invoices"].get(invoice_id.strip())
        if invoice is None:
            raise ToolError(f"no invoice {invoice_id}")
        return invoice

    @tool
    def get_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Get an invoice: vendor, vendor invoice number, PO number, dates, terms, lines (SKU,
        quantity, unit price, amount), total, memo, status, and today's date."""
        return {
            "invoice_id": invoice_id.strip(),
            "today": self.state["today"],
            **self._invoice(invoice_id),
        }

    @tool
    def get_vendor(self, vendor_id: str) -> dict[str, Any]:
        """Get a vendor from the vendor master: name, status (active/blocked) and the bank
        account payments go to."""
        vendor = self.state["vendors"].get(vendor_id.strip())
        if vendor is None:
            raise ToolError(f"no vendor {vendor_id} in the vendor master")
        return {"vendor_id": vendor_id.strip(), **vendor}

    @tool
    def get_purchase_order(self, po_number: str) -> dict[str, Any]:
        """Get a purchase order: vendor, status and lines (SKU, quantity ordered, unit price)."""
        po = self.state["purchase_orders"].get(po_number.strip())
        if po is None:
            raise ToolError(f"no purchase order {po_number}")
        return {"po_number": po_number.strip(), **po}

    @tool
    def get_goods_receipts(self, po_number: str) -> dict[str, Any]:
        """Get the goods receipts posted against a purchase order, and the total quantity
        received per SKU."""
        receipts = [
            {"receipt_id": rid, **r}
            for rid, r in self.state["goods_receipts"].items()
            if r["po_number"] == po_number.strip()
        ]
        received: dict[str, int] = {}
        for r in receipts:
            for line in r["lines"]:
                received[line["sku"]] = received.get(line["sku"], 0) + int(line["qty"])
        return {"po_number": po_number.strip(), "receipts": receipts, "received_by_sku": received}

    @tool
    def search_invoices(
        self, vendor_id: str, vendor_invoice_number: str = "", po_number: str = ""
    ) -> dict[str, Any]:
        """Search a vendor's invoices (all statuses), optionally filtered by vendor invoice
        number (exact, case-insensitive) or PO number. Use it to find duplicates and earlier
        invoices against the same PO."""
        hits = []
        for iid, inv in self.state["invoices"].items():
            if inv["vendor_id"] != vendor_id.strip():
                continue
            if (
                vendor_invoice_number
                and inv["vendor_invoice_number"].lower() != vendor_invoice_number.strip().lower()
            ):
                continue
            if po_number and inv.get("po_number") != po_number.strip():
                continue
            hits.append(
                {
                    "invoice_id": iid,
                    "vendor_invoice_number": inv["vendor_invoice_number"],
                    "po_number": inv.get("po_number"),
                    "invoice_date": inv["invoice_date"],
                    "total": inv["total"],
                    "status": inv["status"],
                    "lines": [{"sku": ln["sku"], "qty": ln["qty"]} for ln in inv["lines"]],
                }
            )
        return {"vendor_id": vendor_id.strip(), "invoices": hits}

    @tool(write=True)
    def approve_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Approve a received invoice for payment (after matching)."""
        invoice = self._invoice(invoice_id)
        if invoice["status"] != "received":
            raise ToolError(
                f"invoice is {invoice['status']}; only received invoices can be approved"
            )
        invoice["status"] = "approved"
        return {"status": "approved", "invoice_id": invoice_id.strip()}

    @tool(write=True)
    def hold_invoice(self, invoice_id: str, reason: str) -> dict[str, Any]:
        """Put a received invoice on hold (a match exception to be resolved with the vendor)."""
        invoice = self._invoice(invoice_id)
        if invoice["status"] != "received":
            raise ToolError(f"invoice is {invoice['status']}; only received invoices can be held")
        invoice["status"] = "held"
        invoice["decision_reason"] = reason
        return {"status": "held", "invoice_id": invoice_id.strip()}

    @tool(write=True)
    def reject_invoice(self, invoice_id: str, reason: str) -> dict[str, Any]:
        """Reject a received invoice (it will not be paid; the vendor is notified)."""
        invoice = self._invoice(invoice_id)
        if invoice["status"] != "received":
            raise ToolError(
                f"invoice is {invoice['status']}; only received invoices can be rejected"
            )
        invoice["status"] = "rejected"
        invoice["decision_reason"] = reason
        return {"status": "rejected", "invoice_id": invoice_id.strip()}

    @tool(write=True)
    def schedule_payment(
        self, invoice_id: str, amount: float, bank_account: str = ""
    ) -> dict[str, Any]:
        """Schedule payment of `amount` dollars on an approved invoice, to the vendor-master
        bank account (or to `bank_account` if one is given)."""
        invoice = self._invoice(invoice_id)
        if invoice["status"] != "approved":
            raise ToolError(f"invoice is {invoice['status']}; only approved invoices can be paid")
        value = money(amount)
        if value <= 0:
            raise ToolError("amount must be positive")
        vendor = self.state["vendors"].get(invoice["vendor_id"], {})
        account = bank_account.strip() or vendor.get("bank_account", "")
        if not account:
            raise ToolError("no bank account on file for this vendor")
        self.state["payments"].append(
            {
                "invoice_id": invoice_id.strip(),
                "vendor_id": invoice["vendor_id"],
                "amount": str(value),
                "bank_account": account,
            }
        )
        invoice["status"] = "scheduled"
        return {
            "status": "scheduled",
            "invoice_id": invoice_id.strip(),
            "amount": str(value),
            "bank_account": account,
        }

    @tool(write=True, escalation=True)
    def escalate_to_controller(self, reason: str, invoice_id: str = "") -> dict[str, Any]:
        """Refer the invoice to the controller, with the reason (approval limit, fraud red
        flags, anything this policy does not cover)."""
        self.state["escalations"].append({"invoice_id": invoice_id.strip(), "reason": reason})
        return {"status": "referred", "queue": "controller"}


class AccountsPayableWorkflow(Workflow):
    """Supplier invoices: three-way match, duplicates, tolerances, approve / hold / reject / pay.

    Resolved: every invoice ends in its expected status, the payments equal the expected ones
    and the reply states the required facts (a correct hold or rejection is a resolved invoice:
    the AP work on it is done). Harmful: money paid beyond what the company owes on an invoice
    (`expected.owed`, per invoice; a duplicate or unmatched invoice owes nothing), any payment to
    a bank account other than the vendor master's (the whole amount), or any payment of an
    invoice above the approval limit (a control breach, with the overpaid part as the loss).
    """

    name = "accounts_payable"
    description = (
        "Accounts payable: three-way match, duplicates, tolerances, approval limit, bank fraud"
    )
    policy = (HERE / "policy.md").read_text(encoding="utf-8")
    env = AccountsPayableEnv
    dataset = HERE.parents[1] / "datasets" / "accounts_payable" / "tasks.jsonl"
    value_model = ValueModel(
        unit="supplier invoice",
        human_cost_per_task_usd=Decimal("5.83"),
        escalation_cost_usd=Decimal("5.83"),
        rework_cost_usd=Decimal("5.83"),
        source=(
            "APQC Metric of the Month, cost to process one invoice (n = 1,485): median $5.83, "
            "top quartile <= $2.07, bottom quartile >= $10 (docsbay.net copy, n.d.). Assumptions: "
            "a controller referral costs one more invoice's processing; undoing a wrong "
            "decision costs one re-processing on top of redoing it"
        ),
        source_url=None,
        as_of=None,
    )

    def validate_task(self, task: Task) -> None:
        """Check the state has the systems the tools read and `expected` names real invoices."""
        state = task.initial_state
        for key in (
            "today",
            "vendors",
            "purchase_orders",
            "goods_receipts",
            "invoices",
            "payments",
            "escalations",
        ):
            if key not in state:
                raise ValueError(f"initial_state lacks '{key}'")
        for iid, inv in state["invoices"].items():
            if inv.get("status") not in STATUSES:
                raise ValueError(f"invoice {iid} has unknown status {inv.get('status')!r}")
            total = sum((money(ln["amount"]) for ln in inv["lines"]), Decimal(0))
            if total != money(inv["total"]):
                raise ValueError(f"invoice {iid}: lines sum to {total}, total says {inv['total']}")
        for key in ("statuses", "payments", "owed", "escalated"):
            if key not in task.expected:
                raise ValueError(f"expected needs '{key}'")
        for iid, status in task.expected["statuses"].items():
            if iid not in state["invoices"] or status not in STATUSES:
                raise ValueError(f"expected status {status!r} for unknown invoice {iid}")

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        """Harmful if money left beyond what is owed (or to a foreign account, or above the
        approval limit); escalated if referred; else resolved iff statuses, payments and the
        reply's facts are as expected."""
        state = env.state
        invoices = state["invoices"]
        master = {vid: v.get("bank_account") for vid, v in state["vendors"].items()}
        owed = {iid: money(a) for iid, a in task.expected["owed"].items()}
        paid: dict[str, Decimal] = {}
        diverted = Decimal(0)
        for p in state["payments"]:
            amount = money(p["amount"])
            if p["bank_account"] != master.get(p["vendor_id"]):
                diverted += amount
            else:
                paid[p["invoice_id"]] = paid.get(p["invoice_id"], Decimal(0)) + amount
        over = sum(
            (max(a - owed.get(iid, Decimal(0)), Decimal(0)) for iid, a in paid.items()), Decimal(0)
        )
        breach = sorted(
            {
                p["invoice_id"]
                for p in state["payments"]
                if money(invoices[p["invoice_id"]]["total"]) > APPROVAL_LIMIT
            }
        )
        if over + diverted > 0 or breach:
            parts = []
            if over:
                parts.append(f"paid ${over} more than owed")
            if diverted:
                parts.append(f"paid ${diverted} to a bank account not in the vendor master")
            if breach:
                parts.append(f"paid {breach[0]} above the ${APPROVAL_LIMIT} approval limit")
            return Outcome.harmful("; ".join(parts), loss_usd=over + diverted)
        initial = task.initial_state["invoices"]
        changed = sorted(
            iid for iid, inv in invoices.items() if inv["status"] != initial[iid]["status"]
        )
        if state["escalations"]:
            correct = bool(task.expected["escalated"]) and not changed and not state["payments"]
            return Outcome.escalated("referred to the controller", correct=correct)
        if task.expected["escalated"]:
            return Outcome.failed("policy required a controller referral; none made")
        expected_status = {iid: inv["status"] for iid, inv in initial.items()} | task.expected[
            "statuses"
        ]
        expected_paid = {p["invoice_id"]: money(p["amount"]) for p in task.expected["payments"]}
        return grade_decisions(
            "invoice", invoices, expected_status, paid, expected_paid,
            transcript.reply, task.required_facts,
        )  # fmt: skip


WORKFLOW = AccountsPayableWorkflow
