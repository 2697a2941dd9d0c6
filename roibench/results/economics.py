"""Economics of a cell: spend, cost per outcome, buyer totals and ROI under per-token and
outcome pricing, vendor margin, the price corridor — by the formulas in the README ("How costs
and ROI are computed").

Everything in money is Decimal and None where it is undefined or unpriced, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.outcomes import Counts
from roibench.core.records import TrialRecord
from roibench.results.stats import bootstrap_interval, pass_hat_k, wilson_interval
from roibench.results.tally import CellTally, TaskTally

ZERO = Decimal(0)


def _div(a: Decimal | None, b: Decimal | int | None) -> Decimal | None:
    if a is None or b is None or b == 0:
        return None
    return a / Decimal(b)


@dataclass(frozen=True)
class CellEconomics:
    """Every economic and reliability figure of one cell. None = undefined or unpriced."""

    counts: Counts
    tasks: int
    trials_per_task: int
    success_rate: float
    success_rate_ci: tuple[float, float] | None
    pass_hat: dict[int, float]
    spend_usd: Decimal | None
    unpriced_calls: int
    cost_per_task_usd: Decimal | None
    cost_per_outcome_usd: Decimal | None
    cost_per_outcome_ci: tuple[float, float] | None
    baseline_usd: Decimal
    human_terms_usd: Decimal
    harm_usd: Decimal
    loss_usd: Decimal
    outcome_fees_usd: Decimal
    billable_units: int
    buyer_total_token_usd: Decimal | None
    buyer_total_outcome_usd: Decimal
    roi_token_pricing: Decimal | None
    roi_token_ci: tuple[float, float] | None
    roi_outcome_pricing: Decimal | None
    roi_outcome_ci: tuple[float, float] | None
    vendor_margin_outcome: Decimal | None
    vendor_margin_ci: tuple[float, float] | None
    price_corridor_usd: tuple[Decimal, Decimal] | None
    break_even_success_rate: Decimal | None
    write_actions: int
    success_rate_boot_ci: tuple[float, float] | None = None
    net_savings_token_usd: Decimal | None = None
    net_savings_outcome_usd: Decimal | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def priced(self) -> bool:
        """True when every call had a price."""
        return self.spend_usd is not None


def agg_counts(tasks: Iterable[TaskTally]) -> Counts:
    """Outcome counts of a set of per-task tallies."""
    total = resolved = escalated = failed = harmful = error = harness = 0
    for g in tasks:
        total += g.n
        resolved += g.resolved
        escalated += g.escalated
        failed += g.failed
        harmful += g.harmful
        error += g.error
        harness += g.harness_error
    return Counts(total, resolved, escalated, failed, harmful, error, harness)


def human_terms(counts: Counts, value: ValueModel) -> Decimal:
    """What people cost to finish what the agent did not: escalations, failures, errors. A
    harness error (a tool or grader bug) is priced like an infrastructure error: the task was
    not done, a human does it (h, no rework: nothing wrong was written that we know of)."""
    redo = value.human_cost_per_task_usd + value.rework_cost_usd
    return (
        value.escalation_usd * counts.escalated
        + redo * counts.failed
        + value.human_cost_per_task_usd * (counts.error + counts.harness_error)
    )


def harm_cost(counts: Counts, loss_usd: Decimal, value: ValueModel) -> Decimal:
    """Harmful outcomes: the measured loss plus a human redoing and undoing the work."""
    return loss_usd + (value.human_cost_per_task_usd + value.rework_cost_usd) * counts.harmful


def price_corridor(
    spend: Decimal | None,
    baseline: Decimal,
    human_and_harm: Decimal,
    billable: int,
    pricing: OutcomePricing,
    trials: int,
) -> tuple[Decimal, Decimal] | None:
    """Outcome prices p (per billable unit) where the vendor covers its spend and the buyer's
    ROI is >= 0: p_low = (spend - base fees) / billable — the cost per outcome CPO when only
    resolutions are billed — and p_high = (baseline - human terms - harm - base fees) / billable.
    None when unpriced, nothing is billable, or p_high < p_low (no price works for both)."""
    if spend is None or billable <= 0:
        return None
    base_fees = pricing.base_fee_usd * trials if pricing.scheme == "hybrid" else ZERO
    p_low = max((spend - base_fees) / billable, ZERO)
    p_high = (baseline - human_and_harm - base_fees) / billable
    return (p_low, p_high) if p_high >= p_low else None


def break_even_success_rate(
    spend: Decimal | None, trials: int, pricing: OutcomePricing
) -> Decimal | None:
    """Success rate at which outcome fees cover the spend: cost per trial / p (minus the hybrid
    base fee per conversation). Defined for per_resolution and hybrid schemes only."""
    if spend is None or trials == 0 or pricing.price_usd <= 0:
        return None
    if pricing.scheme not in ("per_resolution", "hybrid"):
        return None
    per_trial = spend / trials
    if pricing.scheme == "hybrid":
        per_trial -= pricing.base_fee_usd
    return max(per_trial, ZERO) / pricing.price_usd


def cell_economics(
    trials: Iterable[TrialRecord],
    value: ValueModel,
    pricing: OutcomePricing,
    *,
    write_tools: frozenset[str] = frozenset(),
    bootstrap_seed: int = 0,
    resamples: int = 1000,
) -> CellEconomics:
    """Compute a cell's figures from its trials (README: "How costs and ROI are computed")."""
    return tally_economics(
        CellTally.of(trials, write_tools),
        value,
        pricing,
        bootstrap_seed=bootstrap_seed,
        resamples=resamples,
    )


def tally_economics(
    tally: CellTally,
    value: ValueModel,
    pricing: OutcomePricing,
    *,
    bootstrap_seed: int = 0,
    resamples: int = 1000,
) -> CellEconomics:
    """Compute a cell's figures from its running tally (README: "How costs and ROI are
    computed")."""
    groups = tally.task_groups()
    counts = agg_counts(groups)
    t_total = counts.total

    unpriced = tally.spend.unpriced
    spend = tally.spend.total_usd
    loss = tally.loss_usd
    actions = sum(g.actions for g in groups)
    baseline = value.human_cost_per_task_usd * t_total
    humans = human_terms(counts, value)
    harm = harm_cost(counts, loss, value)
    fees = pricing.fees_usd(counts, actions)
    billable = pricing.billable_units(counts, actions)
    buyer_token = None if spend is None else spend + humans + harm
    buyer_outcome = fees + humans + harm

    roi_token = None
    if spend is not None and buyer_token is not None and spend > 0:
        roi_token = (baseline - buyer_token) / spend
    roi_outcome = _div(baseline - buyer_outcome, fees) if fees > 0 else None
    margin = _div(fees - spend, fees) if spend is not None and fees > 0 else None

    notes: list[str] = []
    corridor = price_corridor(spend, baseline, humans + harm, billable, pricing, t_total)
    if spend is not None and billable > 0 and corridor is None:
        notes.append("no outcome price covers the spend and leaves the buyer ROI >= 0")

    trials_per_task = max((g.n for g in groups), default=0)
    pass_hat = {
        k: v
        for k in range(1, trials_per_task + 1)
        if (v := pass_hat_k([(g.n, g.resolved) for g in groups], k)) is not None
    }

    def cpo(sample: list[TaskTally]) -> float | None:
        s = sum(g.resolved for g in sample)
        return sum(g.spend_usd for g in sample) / s if s else None

    def roi_tok(sample: list[TaskTally]) -> float | None:
        sp = sum(g.spend_usd for g in sample)
        if sp <= 0:
            return None
        c = agg_counts(sample)
        lo = Decimal(str(sum(g.loss_usd for g in sample)))
        buyer = sp + float(human_terms(c, value) + harm_cost(c, lo, value))
        return (float(value.human_cost_per_task_usd) * c.total - buyer) / sp

    def success(sample: list[TaskTally]) -> float | None:
        n = sum(g.n for g in sample)
        return sum(g.resolved for g in sample) / n if n else None

    def margin_of(sample: list[TaskTally]) -> float | None:
        c = agg_counts(sample)
        f = float(pricing.fees_usd(c, sum(g.actions for g in sample)))
        if f <= 0:
            return None
        return (f - sum(g.spend_usd for g in sample)) / f

    def roi_out(sample: list[TaskTally]) -> float | None:
        c = agg_counts(sample)
        f = float(pricing.fees_usd(c, sum(g.actions for g in sample)))
        if f <= 0:
            return None
        lo = Decimal(str(sum(g.loss_usd for g in sample)))
        buyer = f + float(human_terms(c, value) + harm_cost(c, lo, value))
        return (float(value.human_cost_per_task_usd) * c.total - buyer) / f

    priced = spend is not None
    boot = {"seed": bootstrap_seed, "resamples": resamples}
    if not priced:
        notes.append(f"{unpriced} call(s) unpriced: cost metrics are absent, not zero")
    return CellEconomics(
        counts=counts,
        tasks=len(groups),
        trials_per_task=trials_per_task,
        success_rate=counts.resolved / t_total if t_total else 0.0,
        success_rate_ci=wilson_interval(counts.resolved, t_total),
        pass_hat=pass_hat,
        spend_usd=spend,
        unpriced_calls=unpriced,
        cost_per_task_usd=_div(spend, t_total),
        cost_per_outcome_usd=_div(spend, counts.resolved),
        cost_per_outcome_ci=bootstrap_interval(groups, cpo, **boot) if priced else None,
        baseline_usd=baseline,
        human_terms_usd=humans,
        harm_usd=harm,
        loss_usd=loss,
        outcome_fees_usd=fees,
        billable_units=billable,
        buyer_total_token_usd=buyer_token,
        buyer_total_outcome_usd=buyer_outcome,
        roi_token_pricing=roi_token,
        roi_token_ci=bootstrap_interval(groups, roi_tok, **boot) if priced else None,
        roi_outcome_pricing=roi_outcome,
        roi_outcome_ci=bootstrap_interval(groups, roi_out, **boot),
        vendor_margin_outcome=margin,
        vendor_margin_ci=bootstrap_interval(groups, margin_of, **boot) if priced else None,
        price_corridor_usd=corridor,
        break_even_success_rate=break_even_success_rate(spend, t_total, pricing),
        write_actions=actions,
        notes=notes,
        success_rate_boot_ci=bootstrap_interval(groups, success, **boot),
        net_savings_token_usd=None if buyer_token is None else baseline - buyer_token,
        net_savings_outcome_usd=baseline - buyer_outcome,
    )


HUMAN_BASELINES: dict[str, ValueModel] = {
    "support_ticket_live": ValueModel(
        unit="support contact (live channel)",
        human_cost_per_task_usd=Decimal("8.01"),
        source="Gartner via destinationcrm.com: live channels $8.01 per contact",
        source_url="https://www.destinationcrm.com",
        as_of=date(2019, 11, 26),
    ),
    "support_resolution_one_channel": ValueModel(
        unit="support resolution (one channel)",
        human_cost_per_task_usd=Decimal("9.10"),
        source="Gartner via customerexperiencedive.com: $9.10 per resolution on one channel",
        source_url="https://www.customerexperiencedive.com",
    ),
    "ap_invoice_median": ValueModel(
        unit="AP invoice processed",
        human_cost_per_task_usd=Decimal("5.83"),
        source="APQC Metric of the Month (n = 1,485): median $5.83 per invoice",
    ),
    "ap_invoice_ardent_average": ValueModel(
        unit="AP invoice processed",
        human_cost_per_task_usd=Decimal("10.89"),
        source="Ardent Partners: average $10.89 per invoice (2021 figure), via medius.com",
    ),
    "it_helpdesk_l1_ticket": ValueModel(
        unit="IT help-desk ticket (level 1)",
        human_cost_per_task_usd=Decimal("22"),
        source="MetricNet via ManageEngine (2014): about $22 per level-1 ticket (low confidence)",
    ),
    "aml_alert_review": ValueModel(
        unit="AML alert reviewed",
        human_cost_per_task_usd=Decimal("30"),
        source="Derived: 30 min per alert at $60/h loaded (fluxforce.ai, solvejet.net); "
        "no authoritative figure found",
    ),
    "prior_authorization_manual": ValueModel(
        unit="prior authorisation (manual)",
        human_cost_per_task_usd=Decimal("7.50"),
        source="CAQH Index 2016 (published 2017-01): prior authorisation $7.50 manual vs "
        "$1.89 electronic",
        source_url="https://www.caqh.org",
    ),
}
"""Published human-cost figures (shared/reference/economics.md §1.2) a workflow can use as its
value model; each with source and date (None where the page shows no date)."""


def roi_outcome_at_price(
    econ: CellEconomics, pricing: OutcomePricing, price_usd: Decimal
) -> Decimal | None:
    """Buyer ROI under outcome pricing had the price per billable unit been `price_usd`, with
    the cell's counts, write actions, human terms and harm unchanged (ROI-vs-price curves).
    None when no fees would be paid."""
    fees = pricing.model_copy(update={"price_usd": price_usd}).fees_usd(
        econ.counts, econ.write_actions
    )
    if fees <= 0:
        return None
    return (econ.baseline_usd - (fees + econ.human_terms_usd + econ.harm_usd)) / fees
