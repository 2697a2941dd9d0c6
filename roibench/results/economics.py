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
from roibench.results.cluster import (
    VarianceComponents,
    binary_components,
    cluster_wilson_interval,
)
from roibench.results.power import like_cell_mdd
from roibench.results.stats import RESAMPLES, pass_hat_k, wilson_interval
from roibench.results.tally import CellTally, TaskTally
from roibench.results.tasksums import (
    EconParams,
    Figure,
    cell_intervals,
    matrix_of_tallies,
    pass_name,
)

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
    """Cluster-aware (trials nested in tasks): see `cluster.cluster_wilson_interval`."""
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
    success_rate_wilson_pooled_ci: tuple[float, float] | None = None
    """The naive Wilson interval over all N × k trials as if independent (too narrow when
    trials of a task agree)."""
    success_components: VarianceComponents | None = None
    """Between-task ω², within-task σ², ICC of the success indicator."""
    mdd_success_rate: float | None = None
    """Minimum detectable success-rate difference (80% power, α = 0.05) against a cell of the
    same design on the same tasks (`power.like_cell_mdd`)."""
    pass_hat_ci: dict[int, tuple[float, float] | None] = field(default_factory=dict)
    price_corridor_low_ci: tuple[float, float] | None = None
    price_corridor_high_ci: tuple[float, float] | None = None
    break_even_ci: tuple[float, float] | None = None
    net_savings_token_usd: Decimal | None = None
    net_savings_outcome_usd: Decimal | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def priced(self) -> bool:
        """True when every call had a price."""
        return self.spend_usd is not None


CELL_INTERVALS = (
    Figure.SUCCESS_RATE,
    Figure.COST_PER_OUTCOME,
    Figure.ROI_TOKEN,
    Figure.ROI_OUTCOME,
    Figure.VENDOR_MARGIN,
    Figure.CORRIDOR_LOW,
    Figure.CORRIDOR_HIGH,
    Figure.BREAK_EVEN,
)
"""The figures of a cell with a task-bootstrap interval (besides pass^j)."""


def statistics_metrics(econ: CellEconomics) -> dict[str, float | None]:
    """The cell's decision statistics as metrics: the naive pooled Wilson interval, intervals
    of pass^j, the corridor bounds and break-even, the success indicator's variance
    components (ω², σ², ICC, design effect) and the minimum detectable difference."""
    m: dict[str, float | None] = {}
    intervals = {
        "success_rate_wilson_pooled": econ.success_rate_wilson_pooled_ci,
        "price_corridor_low_usd": econ.price_corridor_low_ci,
        "price_corridor_high_usd": econ.price_corridor_high_ci,
        "break_even_success_rate": econ.break_even_ci,
    } | {pass_name(j): ci for j, ci in econ.pass_hat_ci.items()}
    for name, ci in intervals.items():
        if ci is not None:
            m[f"{name}_ci_low"], m[f"{name}_ci_high"] = ci
    c = econ.success_components
    if c is not None:
        m["success_var_between_tasks"] = c.between
        m["success_var_within_task"] = c.within
        m["success_icc"] = c.icc
        m["success_design_effect"] = c.design_effect
    m["mdd_success_rate"] = econ.mdd_success_rate
    return m


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
    resamples: int = RESAMPLES,
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
    resamples: int = RESAMPLES,
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

    priced = spend is not None
    matrix = matrix_of_tallies(tally.tasks, sorted(pass_hat), priced=priced)
    figures = [str(f) for f in CELL_INTERVALS] + [pass_name(j) for j in pass_hat]
    ci = cell_intervals(
        matrix, EconParams.of(value, pricing), figures, seed=bootstrap_seed, resamples=resamples
    )
    n_col, resolved_col = matrix.columns[:, 0], matrix.columns[:, 1]
    components = binary_components(n_col, resolved_col)
    if not priced:
        notes.append(f"{unpriced} call(s) unpriced: cost metrics are absent, not zero")
    return CellEconomics(
        counts=counts,
        tasks=len(groups),
        trials_per_task=trials_per_task,
        success_rate=counts.resolved / t_total if t_total else 0.0,
        success_rate_ci=cluster_wilson_interval(n_col, resolved_col),
        pass_hat=pass_hat,
        spend_usd=spend,
        unpriced_calls=unpriced,
        cost_per_task_usd=_div(spend, t_total),
        cost_per_outcome_usd=_div(spend, counts.resolved),
        cost_per_outcome_ci=ci[Figure.COST_PER_OUTCOME],
        baseline_usd=baseline,
        human_terms_usd=humans,
        harm_usd=harm,
        loss_usd=loss,
        outcome_fees_usd=fees,
        billable_units=billable,
        buyer_total_token_usd=buyer_token,
        buyer_total_outcome_usd=buyer_outcome,
        roi_token_pricing=roi_token,
        roi_token_ci=ci[Figure.ROI_TOKEN],
        roi_outcome_pricing=roi_outcome,
        roi_outcome_ci=ci[Figure.ROI_OUTCOME],
        vendor_margin_outcome=margin,
        vendor_margin_ci=ci[Figure.VENDOR_MARGIN],
        price_corridor_usd=corridor,
        break_even_success_rate=break_even_success_rate(spend, t_total, pricing),
        write_actions=actions,
        notes=notes,
        success_rate_boot_ci=ci[Figure.SUCCESS_RATE],
        success_rate_wilson_pooled_ci=wilson_interval(counts.resolved, t_total),
        success_components=components,
        mdd_success_rate=None if components is None else like_cell_mdd(components),
        pass_hat_ci={j: ci[pass_name(j)] for j in pass_hat},
        price_corridor_low_ci=ci[Figure.CORRIDOR_LOW] if corridor is not None else None,
        price_corridor_high_ci=ci[Figure.CORRIDOR_HIGH] if corridor is not None else None,
        break_even_ci=ci[Figure.BREAK_EVEN]
        if break_even_success_rate(spend, t_total, pricing) is not None
        else None,
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
