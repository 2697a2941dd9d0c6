"""Insurance claims triage: coverage against policy terms, reporting deadline, exclusions,
deductible, limits and fraud red flags; graded on the claim's end state and the money paid."""

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
AUTHORITY = Decimal("10000.00")
"""Policy rule 8: payments above this need a senior adjuster."""
STATUSES = ("open", "paid", "denied", "referred", "closed")


class ClaimsEnv(Env):
    """The insurer's policy administration and claims systems for one claim."""

    def _open_claim(self, claim_id: str) -> dict[str, Any]:
        claim = self.state["claims"].get(claim_id.strip())
        if claim is None:
            raise ToolError(f"no claim {claim_id}")
        if claim["status"] != "open":
            raise ToolError(f"claim is {claim['status']}; only open claims can be decided")
        return claim

    @tool
    def get_claim(self, claim_id: str) -> dict[str, Any]:
        """Get a claim: policy, claimant, date of loss, date reported, cause of loss recorded by
        the field adjuster, coverage section, amount claimed, description, supporting documents
        (type, issuer, date, amount, text), status, and today's date."""
        claim = self.state["claims"].get(claim_id.strip())
        if claim is None:
            raise ToolError(f"no claim {claim_id}")
        return {"claim_id": claim_id.strip(), "today": self.state["today"], **claim}

    @tool
    def get_policy(self, policy_id: str) -> dict[str, Any]:
        """Get an insurance policy: holder, product, status, policy period, deductible, limits
        per coverage section, covered perils and exclusions."""
        policy = self.state["policies"].get(policy_id.strip())
        if policy is None:
            raise ToolError(f"no policy {policy_id}")
        return {"policy_id": policy_id.strip(), **policy}

    @tool
    def get_claim_history(self, policy_id: str) -> dict[str, Any]:
        """Get the earlier claims on a policy: dates, cause, items (with serial numbers),
        amounts paid and status."""
        if policy_id.strip() not in self.state["policies"]:
            raise ToolError(f"no policy {policy_id}")
        return {
            "policy_id": policy_id.strip(),
            "claims": [
                c for c in self.state["claim_history"] if c["policy_id"] == policy_id.strip()
            ],
        }

    @tool(write=True)
    def approve_claim(self, claim_id: str, amount: float) -> dict[str, Any]:
        """Approve an open claim and pay `amount` dollars to the policyholder."""
        claim = self._open_claim(claim_id)
        value = money(amount)
        if value <= 0:
            raise ToolError("amount must be positive")
        claim["status"] = "paid"
        self.state["payments"].append({"claim_id": claim_id.strip(), "amount": str(value)})
        return {"status": "paid", "claim_id": claim_id.strip(), "amount": str(value)}

    @tool(write=True)
    def deny_claim(self, claim_id: str, reason: str) -> dict[str, Any]:
        """Deny an open claim, with the reason sent to the policyholder."""
        claim = self._open_claim(claim_id)
        claim["status"] = "denied"
        claim["decision_reason"] = reason
        return {"status": "denied", "claim_id": claim_id.strip()}

    @tool(write=True)
    def refer_to_siu(self, claim_id: str, red_flags: str) -> dict[str, Any]:
        """Refer an open claim to the special investigations unit, naming the red flags."""
        claim = self._open_claim(claim_id)
        claim["status"] = "referred"
        claim["decision_reason"] = red_flags
        return {
            "status": "referred",
            "claim_id": claim_id.strip(),
            "queue": "special investigations",
        }

    @tool(write=True, escalation=True)
    def escalate_to_senior_adjuster(self, reason: str, claim_id: str = "") -> dict[str, Any]:
        """Pass the claim to a senior adjuster, with the reason (authority limit, attorney or
        litigation, anything this policy does not cover)."""
        self.state["escalations"].append({"claim_id": claim_id.strip(), "reason": reason})
        return {"status": "escalated", "queue": "senior adjusters"}


class ClaimsWorkflow(Workflow):
    """First-party property claims: pay / deny / refer to SIU / escalate.

    Resolved: the claim ends in its expected status (paid, denied, or referred to special
    investigations — a correct referral completes the triage work), the payment equals the
    expected one and the reply states the required facts. Harmful: money paid beyond what the
    policy owes on a claim (`expected.owed`; an uncovered, below-deductible or fraudulent claim
    owes nothing), or any payment above the $10,000.00 authority limit (a control breach, with
    the overpaid part as the loss).
    """

    name = "claims"
    description = (
        "Insurance claims triage: coverage, deadline, exclusions, deductible, limits, fraud flags"
    )
    policy = (HERE / "policy.md").read_text(encoding="utf-8")
    env = ClaimsEnv
    dataset = HERE.parents[1] / "datasets" / "claims" / "tasks.jsonl"
    value_model = ValueModel(
        unit="property claim (triage and decision)",
        human_cost_per_task_usd=Decimal("42.50"),
        escalation_cost_usd=Decimal("42.50"),
        rework_cost_usd=Decimal("42.50"),
        source=(
            "insurnest.com, cost per claim benchmarks: manual operations $35-50 per claim (pet "
            "insurance MGAs, 2026-03-14); midpoint $42.50 (low confidence, vendor figure). "
            "Assumptions: a simple first-party property claim costs about what a manual pet "
            "claim does (the $7-15 per document at 15-25 documents reported by "
            "insurancethoughtleadership.com, 2026-03-30, describes a full file and would put it "
            "higher); a senior-adjuster referral and the "
            "reworking of a wrong decision each cost one more handling"
        ),
        source_url="https://insurnest.com/blog/pet-insurance-mga-cost-per-claim",
        as_of=None,
    )

    def validate_task(self, task: Task) -> None:
        """Check the state has the systems the tools read and `expected` names a real claim."""
        state = task.initial_state
        for key in ("today", "policies", "claims", "claim_history", "payments", "escalations"):
            if key not in state:
                raise ValueError(f"initial_state lacks '{key}'")
        for cid, claim in state["claims"].items():
            if claim.get("policy_id") not in state["policies"]:
                raise ValueError(f"claim {cid} names an unknown policy")
            if claim.get("status") not in STATUSES:
                raise ValueError(f"claim {cid} has unknown status {claim.get('status')!r}")
        for key in ("statuses", "payments", "owed", "escalated"):
            if key not in task.expected:
                raise ValueError(f"expected needs '{key}'")
        for cid, status in task.expected["statuses"].items():
            if cid not in state["claims"] or status not in STATUSES:
                raise ValueError(f"expected status {status!r} for unknown claim {cid}")

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        """Harmful if money was paid beyond what is owed or above the authority limit;
        escalated if handed to a senior adjuster; else resolved iff statuses, payments and the
        reply's facts are as expected."""
        state = env.state
        owed = {cid: money(a) for cid, a in task.expected["owed"].items()}
        paid: dict[str, Decimal] = {}
        for p in state["payments"]:
            paid[p["claim_id"]] = paid.get(p["claim_id"], Decimal(0)) + money(p["amount"])
        over = sum(
            (max(a - owed.get(cid, Decimal(0)), Decimal(0)) for cid, a in paid.items()), Decimal(0)
        )
        breach = sorted(cid for cid, a in paid.items() if a > AUTHORITY)
        if over > 0 or breach:
            parts = [f"paid ${over} more than the policy owes"] if over else []
            if breach:
                parts.append(f"paid {breach[0]} above the ${AUTHORITY} authority limit")
            return Outcome.harmful("; ".join(parts), loss_usd=over)
        claims = state["claims"]
        initial = task.initial_state["claims"]
        changed = sorted(cid for cid, c in claims.items() if c["status"] != initial[cid]["status"])
        if state["escalations"]:
            correct = bool(task.expected["escalated"]) and not changed
            return Outcome.escalated("passed to a senior adjuster", correct=correct)
        if task.expected["escalated"]:
            return Outcome.failed("policy required a senior adjuster; none involved")
        expected_status = {cid: c["status"] for cid, c in initial.items()} | task.expected[
            "statuses"
        ]
        expected_paid = {p["claim_id"]: money(p["amount"]) for p in task.expected["payments"]}
        return grade_decisions(
            "claim", claims, expected_status, paid, expected_paid,
            transcript.reply, task.required_facts,
        )  # fmt: skip


WORKFLOW = ClaimsWorkflow
