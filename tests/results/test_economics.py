"""Cell economics by DESIGN.md's formulas, checked against hand computations; identities; the
outcome-pricing schemes and billable rules; the unpriced path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.outcomes import Counts, Outcome
from roibench.core.records import CallRecord, ToolCallRecord, TrialRecord
from roibench.core.usage import Usage
from roibench.results.economics import HUMAN_BASELINES, cell_economics
from roibench.results.summary import summarize_cell

D = Decimal
T0 = datetime(2026, 11, 24, 12, tzinfo=UTC)
VALUE = ValueModel(
    unit="ticket",
    human_cost_per_task_usd=D(10),
    escalation_cost_usd=D(4),
    rework_cost_usd=D(2),
    source="test figures",
)
PER_RESOLUTION = OutcomePricing(scheme="per_resolution", price_usd=D("1.00"))
WRITE = frozenset({"issue_refund"})


def trial(task: str, k: int, outcome: Outcome, *costs: str | None, writes: int = 0) -> TrialRecord:
    calls = tuple(
        CallRecord.model_validate(
            {
                "started_at": T0,
                "latency_s": 0.1,
                "usage": Usage(input_tokens=100, output_tokens=10, requests=1),
                "cost_usd": None if c is None else D(c),
            }
        )
        for c in costs
    )
    total = None if any(c is None for c in costs) else sum((D(c) for c in costs if c), D(0))
    log = tuple(
        ToolCallRecord.model_validate(
            {"name": "issue_refund", "args": {}, "result": "ok", "ok": True}
        )
        for _ in range(writes)
    )
    log += (
        ToolCallRecord.model_validate(
            {"name": "issue_refund", "args": {}, "result": "error", "ok": False}
        ),
    )
    return TrialRecord.model_validate(
        {
            "cell": "w/a/m",
            "workflow": "w",
            "agent": "a",
            "model": "m",
            "task_id": task,
            "tier": "medium",
            "trial": k,
            "seed": k,
            "outcome": outcome,
            "calls": calls,
            "usage": sum((c.usage for c in calls), Usage()),
            "cost_usd": total,
            "steps": len(calls),
            "tool_log": log,
            "started_at": T0,
            "duration_s": 1.0,
        }
    )


def sample() -> list[TrialRecord]:
    """3 tasks x 2 trials: S=3, E=1, F=1, H=1 (loss $5); spend $1.60."""
    return [
        trial("t1", 0, Outcome.resolved(), "0.06", "0.04", writes=1),
        trial("t1", 1, Outcome.resolved(), "0.20", writes=1),
        trial("t2", 0, Outcome.escalated("handed off"), "0.30"),
        trial("t2", 1, Outcome.failed("wrong amount"), "0.40", writes=1),
        trial("t3", 0, Outcome.harmful("over-refund", loss_usd=D(5)), "0.50", writes=2),
        trial("t3", 1, Outcome.resolved(), "0.10", writes=1),
    ]


def test_every_formula_by_hand() -> None:
    e = cell_economics(sample(), VALUE, PER_RESOLUTION, write_tools=WRITE)
    assert e.counts == Counts(total=6, resolved=3, escalated=1, failed=1, harmful=1, error=0)
    assert e.spend_usd == D("1.60")  # 0.06 + 0.04 + 0.20 + 0.30 + 0.40 + 0.50 + 0.10
    assert e.cost_per_task_usd == D("1.60") / 6
    assert e.cost_per_outcome_usd == D("1.60") / 3
    assert e.baseline_usd == D(60)  # 6 x $10
    assert e.human_terms_usd == D(16)  # E x $4 + F x ($10 + $2)
    assert e.harm_usd == D(17)  # loss $5 + H x ($10 + $2)
    assert e.buyer_total_token_usd == D("34.60")  # 1.60 + 16 + 17
    assert e.roi_token_pricing == D("15.875")  # (60 - 34.60) / 1.60
    assert e.outcome_fees_usd == D(3)  # 3 resolutions x $1
    assert e.buyer_total_outcome_usd == D(36)  # 3 + 16 + 17
    assert e.roi_outcome_pricing == D(8)  # (60 - 36) / 3
    assert e.vendor_margin_outcome == (D(3) - D("1.60")) / D(3)
    assert e.price_corridor_usd == (D("1.60") / 3, D(9))  # (60 - 16 - 17) / 3 = 9
    assert e.break_even_success_rate == D("1.60") / 6 / D(1)
    assert e.net_savings_token_usd == D("25.40")
    assert e.net_savings_outcome_usd == D(24)
    assert e.write_actions == 6  # failed tool calls do not count
    assert e.pass_hat == {1: pytest.approx(0.5), 2: pytest.approx(1 / 3)}  # (1+0+.5)/3, (1+0+0)/3
    assert e.success_rate == 0.5


def test_identities() -> None:
    trials = sample()
    e = cell_economics(trials, VALUE, PER_RESOLUTION)
    # CPO x successes = spend (28-digit Decimal: equal to the last digit here)
    assert e.cost_per_outcome_usd is not None and e.spend_usd is not None
    assert e.cost_per_outcome_usd * e.counts.resolved == pytest.approx(e.spend_usd, abs=D("1e-25"))
    # ROI from totals = ROI from per-task sums
    per_task = [
        cell_economics([t for t in trials if t.task_id == task], VALUE, PER_RESOLUTION)
        for task in ("t1", "t2", "t3")
    ]
    base = sum((p.baseline_usd for p in per_task), D(0))
    buyer = sum((p.buyer_total_token_usd or D(0) for p in per_task), D(0))
    spend = sum((p.spend_usd or D(0) for p in per_task), D(0))
    assert (base - buyer) / spend == e.roi_token_pricing
    fees = sum((p.outcome_fees_usd for p in per_task), D(0))
    buyer_out = sum((p.buyer_total_outcome_usd for p in per_task), D(0))
    assert (base - buyer_out) / fees == e.roi_outcome_pricing


@pytest.mark.parametrize(
    ("pricing", "billable", "fees"),
    [
        # per conversation, harmful refunded: 6 - 1 = 5 x $0.50
        (OutcomePricing(scheme="per_conversation", price_usd=D("0.5")), 5, D("2.5")),
        # per conversation, harmful billed too: 6 x $0.50
        (
            OutcomePricing(scheme="per_conversation", price_usd=D("0.5"), refund_harmful=False),
            6,
            D(3),
        ),
        # per resolution, escalations billed, harmful billed: 3 + 1 + 1
        (OutcomePricing(price_usd=D(1), bill_escalations=True, refund_harmful=False), 5, D(5)),
        # per action: 6 successful write calls x $0.10
        (OutcomePricing(scheme="per_action", price_usd=D("0.10")), 6, D("0.6")),
        # hybrid: 3 resolutions x $1 + 6 conversations x $0.20
        (OutcomePricing(scheme="hybrid", price_usd=D(1), base_fee_usd=D("0.2")), 3, D("4.2")),
    ],
)
def test_outcome_schemes_and_billable_rules(
    pricing: OutcomePricing, billable: int, fees: Decimal
) -> None:
    e = cell_economics(sample(), VALUE, pricing, write_tools=WRITE)
    assert e.billable_units == billable
    assert e.outcome_fees_usd == fees
    assert e.roi_outcome_pricing == (D(60) - (fees + D(33))) / fees


def test_hybrid_corridor_and_break_even() -> None:
    pricing = OutcomePricing(scheme="hybrid", price_usd=D(1), base_fee_usd=D("0.2"))
    e = cell_economics(sample(), VALUE, pricing)
    # base fees 6 x 0.2 = 1.2: p_low = (1.60 - 1.2) / 3, p_high = (60 - 33 - 1.2) / 3 = 8.6
    assert e.price_corridor_usd == ((D("1.60") - D("1.2")) / 3, D("25.8") / 3)
    # (cost per trial - base fee) / p = (1.60/6 - 0.2) / 1
    assert e.break_even_success_rate == D("1.60") / 6 - D("0.2")


def test_per_action_corridor_and_no_break_even() -> None:
    pricing = OutcomePricing(scheme="per_action", price_usd=D("0.10"))
    e = cell_economics(sample(), VALUE, pricing, write_tools=WRITE)
    assert e.price_corridor_usd == (D("1.60") / 6, D(27) / 6)
    assert e.break_even_success_rate is None


def test_no_corridor_when_agent_costs_more_than_people() -> None:
    costly = [trial("t1", 0, Outcome.resolved(), "50"), trial("t2", 0, Outcome.failed("x"), "1")]
    e = cell_economics(costly, VALUE, PER_RESOLUTION)
    # p_low = 51 / 1 > p_high = (20 - 12) / 1
    assert e.price_corridor_usd is None
    assert any("no outcome price" in n for n in e.notes)


def test_unpriced_cell_has_no_cost_metrics() -> None:
    trials = sample()
    trials[3] = trial("t2", 1, Outcome.failed("wrong amount"), "0.40", None)
    e = cell_economics(trials, VALUE, PER_RESOLUTION)
    assert not e.priced and e.unpriced_calls == 1
    for value in (
        e.spend_usd,
        e.cost_per_task_usd,
        e.cost_per_outcome_usd,
        e.buyer_total_token_usd,
        e.roi_token_pricing,
        e.vendor_margin_outcome,
        e.price_corridor_usd,
        e.break_even_success_rate,
        e.net_savings_token_usd,
        e.cost_per_outcome_ci,
        e.roi_token_ci,
        e.vendor_margin_ci,
    ):
        assert value is None
    assert e.roi_outcome_pricing == D(8)  # does not depend on spend
    metrics = summarize_cell("w/a/m", trials, VALUE, PER_RESOLUTION).metrics
    for name in (
        "spend_usd",
        "cost_per_outcome_usd",
        "roi_token_pricing",
        "cost_per_outcome_usd_ci_low",
        "vendor_margin_outcome",
        "price_corridor_low_usd",
    ):
        assert name not in metrics
    assert metrics["unpriced_calls"] == 1.0
    assert metrics["success_rate"] == 0.5


def test_summary_metric_names_and_values() -> None:
    m = summarize_cell("w/a/m", sample(), VALUE, PER_RESOLUTION, write_tools=WRITE, seed=3).metrics
    assert m["spend_usd"] == 1.6
    assert m["roi_token_pricing"] == 15.875
    assert m["roi_outcome_pricing"] == 8.0
    assert m["price_corridor_high_usd"] == 9.0
    assert m["pass_hat_1"] == 0.5 and m["pass_hat_2"] == pytest.approx(1 / 3)
    assert "pass_hat_3" not in m
    for name in (
        "success_rate_ci_low",
        "success_rate_boot_ci_low",
        "cost_per_outcome_usd_ci_low",
        "roi_token_pricing_ci_high",
        "roi_outcome_pricing_ci_high",
        "vendor_margin_outcome_ci_low",
        "net_savings_token_usd",
        "break_even_success_rate",
        "cost_per_task_usd",
    ):
        assert name in m, name


def test_bootstrap_is_seeded_and_reproducible() -> None:
    a = cell_economics(sample(), VALUE, PER_RESOLUTION, bootstrap_seed=5)
    b = cell_economics(sample(), VALUE, PER_RESOLUTION, bootstrap_seed=5)
    assert a.cost_per_outcome_ci == b.cost_per_outcome_ci
    assert a.roi_token_ci == b.roi_token_ci
    assert a.success_rate_boot_ci == b.success_rate_boot_ci
    assert a.vendor_margin_ci == b.vendor_margin_ci
    lo, hi = a.success_rate_boot_ci or (9.0, -9.0)
    # resampling 3 tasks with success rates 1, 0, 0.5: any resample lies in [0, 1]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0
    wilson = a.success_rate_ci
    assert wilson is not None and wilson[0] < 0.5 < wilson[1]


def test_human_baselines_have_sources() -> None:
    assert HUMAN_BASELINES["support_ticket_live"].human_cost_per_task_usd == D("8.01")
    assert HUMAN_BASELINES["ap_invoice_median"].human_cost_per_task_usd == D("5.83")
    for vm in HUMAN_BASELINES.values():
        assert vm.source


def test_harness_errors_are_apart_from_errors_and_a_human_redoes_them() -> None:
    """A harness error (a tool or grader bug) counts like an infrastructure error in the
    buyer's economics — the task is not done, a person does it at h — but is reported apart:
    harness_error_rate, not error_rate."""
    trials = [
        trial("t1", 0, Outcome.resolved(), "0.10"),
        trial("t1", 1, Outcome.error("api down"), "0.00"),
        trial("t2", 0, Outcome.harness_error("grader of workflow w raised KeyError"), "0.20"),
        trial("t2", 1, Outcome.harness_error("tool 'x' raised ValueError"), "0.30"),
    ]
    e = cell_economics(trials, VALUE, PER_RESOLUTION)
    assert e.counts == Counts(total=4, resolved=1, error=1, harness_error=2)
    assert e.spend_usd == D("0.60")  # a harness error's spend still counts
    assert e.human_terms_usd == D(30)  # (1 error + 2 harness errors) x h = 3 x $10, no rework
    assert e.buyer_total_token_usd == D("30.60")
    assert e.roi_token_pricing == (D(40) - D("30.60")) / D("0.60")  # baseline 4 x $10
    m = summarize_cell("c", trials, VALUE, PER_RESOLUTION).metrics
    assert m["error_rate"] == 0.25 and m["harness_error_rate"] == 0.5
    assert m["success_rate"] == 0.25


def test_a_cell_that_ran_no_trial_has_no_rates() -> None:
    m = summarize_cell("c", [], VALUE, PER_RESOLUTION).metrics
    assert m["trials"] == 0
    assert not [k for k in m if k.endswith("_rate") or k.startswith("pass_hat")]
