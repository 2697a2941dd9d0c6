"""Per-cell figures as flat metric dicts with stable names (the MLflow metric names)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.records import TrialRecord
from roibench.core.usage import Usage
from roibench.journal.spec import RunSpec
from roibench.journal.store import JournalScan, scan_journal
from roibench.results.economics import CellEconomics, statistics_metrics, tally_economics
from roibench.results.groups import group_metrics
from roibench.results.stats import percentile
from roibench.results.tally import CellTally


@dataclass(frozen=True)
class CellSummary:
    """A cell's label, economics and flat metrics."""

    label: str
    economics: CellEconomics
    metrics: dict[str, float]
    usage: Usage


def _f(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _user_sim_metrics(tally: CellTally, econ: CellEconomics) -> dict[str, float | None]:
    """The user simulator's spend and requests, and spend / cost per outcome with it included:
    cost_per_outcome_with_user_sim_usd = (agent spend + user-simulator spend) / S."""
    spend = tally.user_sim_spend.total_usd
    both = None if spend is None or econ.spend_usd is None else econ.spend_usd + spend
    resolved = econ.counts.resolved
    return {
        "user_sim_requests": float(tally.user_sim_requests),
        "user_sim_spend_usd": _f(spend),
        "spend_with_user_sim_usd": _f(both),
        "cost_per_outcome_with_user_sim_usd": _f(both / resolved)
        if both is not None and resolved
        else None,
    }


def _role_metrics(tally: CellTally) -> dict[str, float | None]:
    """Spend and requests of the agent's calls in each non-acting role (e.g. plan_execute's
    planner, self_check's verifier), already included in spend_usd."""
    metrics: dict[str, float | None] = {}
    for role, money in sorted(tally.role_spend.items()):
        name = re.sub(r"[^a-z0-9]+", "_", role.lower()).strip("_") or "other"
        metrics[f"{name}_spend_usd"] = _f(money.total_usd)
        metrics[f"{name}_requests"] = float(money.calls)
    return metrics


def _reliability_metrics(tally: CellTally) -> dict[str, float | None]:
    """Retries, cache hits, estimated usage and the spend of attempts lost in a crash (apart
    from spend_usd, which covers the trials' own calls)."""
    return {
        "retried_calls": float(tally.retried_calls),
        "failed_attempts": float(tally.failed_attempts),
        "cached_calls": float(tally.cached_calls),
        "estimated_usage_calls": float(tally.estimated_usage_calls),
        "lost_calls": float(tally.lost_spend.calls),
        "lost_spend_usd": _f(tally.lost_spend.total_usd),
    }


def _limit_metrics(tally: CellTally) -> dict[str, float | None]:
    """Trials a limit ended, by reason (`step_limit_trials`, `budget_exhausted_trials`, ...)."""
    return {f"{reason}_trials": float(n) for reason, n in sorted(tally.limit_stops.items())}


def summarize_cell(
    label: str,
    trials: Iterable[TrialRecord],
    value: ValueModel,
    pricing: OutcomePricing,
    *,
    write_tools: frozenset[str] = frozenset(),
    seed: int = 0,
) -> CellSummary:
    """Economics plus the metric dict logged to MLflow. Undefined figures are left out."""
    return summarize_tally(label, CellTally.of(trials, write_tools), value, pricing, seed=seed)


def summarize_tally(
    label: str, tally: CellTally, value: ValueModel, pricing: OutcomePricing, *, seed: int = 0
) -> CellSummary:
    """`summarize_cell` from a running tally (the user simulator's calls reported apart)."""
    econ = tally_economics(tally, value, pricing, bootstrap_seed=seed)
    c = econ.counts
    total = c.total or 1
    latencies = tally.latencies_s
    usage = tally.usage
    m: dict[str, float | None] = {
        "trials": float(c.total),
        "tasks": float(econ.tasks),
        "success_rate": econ.success_rate,
        "escalation_rate": c.escalated / total,
        "failure_rate": c.failed / total,
        "harm_rate": c.harmful / total,
        "error_rate": c.error / total,
        "harness_error_rate": c.harness_error / total,
        "spend_usd": _f(econ.spend_usd),
        "cost_per_task_usd": _f(econ.cost_per_task_usd),
        "cost_per_outcome_usd": _f(econ.cost_per_outcome_usd),
        "baseline_usd": _f(econ.baseline_usd),
        "loss_usd": _f(econ.loss_usd),
        "buyer_total_token_usd": _f(econ.buyer_total_token_usd),
        "buyer_total_outcome_usd": _f(econ.buyer_total_outcome_usd),
        "outcome_fees_usd": _f(econ.outcome_fees_usd),
        "roi_token_pricing": _f(econ.roi_token_pricing),
        "roi_outcome_pricing": _f(econ.roi_outcome_pricing),
        "vendor_margin_outcome": _f(econ.vendor_margin_outcome),
        "net_savings_token_usd": _f(econ.net_savings_token_usd),
        "net_savings_outcome_usd": _f(econ.net_savings_outcome_usd),
        "human_terms_usd": _f(econ.human_terms_usd),
        "harm_usd": _f(econ.harm_usd),
        "billable_units": float(econ.billable_units),
        "unpriced_calls": float(econ.unpriced_calls),
        "break_even_success_rate": _f(econ.break_even_success_rate),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "input_tokens": float(usage.input_tokens),
        "cached_input_tokens": float(usage.cache_read_tokens),
        "cache_write_tokens": float(usage.cache_write_tokens),
        "output_tokens": float(usage.output_tokens),
        "reasoning_tokens": float(usage.reasoning_tokens),
        "requests": float(usage.requests),
        "invalid_tool_calls": float(tally.invalid_tool_calls),
    }
    for name, ci in (
        ("success_rate", econ.success_rate_ci),
        ("cost_per_outcome_usd", econ.cost_per_outcome_ci),
        ("roi_token_pricing", econ.roi_token_ci),
        ("roi_outcome_pricing", econ.roi_outcome_ci),
        ("vendor_margin_outcome", econ.vendor_margin_ci),
        ("success_rate_boot", econ.success_rate_boot_ci),
    ):
        if ci is not None:
            m[f"{name}_ci_low"], m[f"{name}_ci_high"] = ci
    if econ.price_corridor_usd is not None:
        m["price_corridor_low_usd"] = float(econ.price_corridor_usd[0])
        m["price_corridor_high_usd"] = float(econ.price_corridor_usd[1])
    for k, v in econ.pass_hat.items():
        m[f"pass_hat_{k}"] = v
    m.update(statistics_metrics(econ))
    m.update(_role_metrics(tally))
    m.update(_user_sim_metrics(tally, econ))
    m.update(_reliability_metrics(tally))
    m.update(_limit_metrics(tally))
    m.update(group_metrics(tally))
    if not c.total:  # a cell that ran no trial has no rates: absent, never a measured 0%
        for name in [k for k in m if k.endswith("_rate") or k.startswith("pass_hat")]:
            m[name] = None
    return CellSummary(
        label=label,
        economics=econ,
        metrics={k: v for k, v in m.items() if v is not None},
        usage=usage,
    )


def new_tallies(spec: RunSpec) -> dict[str, CellTally]:
    """An empty running tally per cell, in the spec's cell order."""
    return {c.label: CellTally(write_tools=frozenset(c.workflow.write_tools)) for c in spec.cells}


def tally_trials(spec: RunSpec, trials: Iterable[TrialRecord]) -> dict[str, CellTally]:
    """The tallies of `trials`, by cell."""
    tallies = new_tallies(spec)
    for t in trials:
        tallies[t.cell].add(t)
    return tallies


def tally_journal(spec: RunSpec, path: Path) -> tuple[dict[str, CellTally], JournalScan]:
    """The tallies of a journal's trials (one streaming pass) and what resuming it needs."""
    tallies = new_tallies(spec)

    def add(trial: TrialRecord) -> None:
        tally = tallies.get(trial.cell)
        if tally is None:
            raise ValueError(f"a trial of cell {trial.cell!r}, which the run spec does not have")
        tally.add(trial)

    return tallies, scan_journal(path, on_trial=add)


def summarize(spec: RunSpec, tallies: dict[str, CellTally]) -> dict[str, CellSummary]:
    """Every cell's figures, from the recorded value models, outcome pricing and seed, with
    the trials it was planned to run (`planned_trials`)."""
    out = {
        cell.label: summarize_tally(
            cell.label,
            tallies[cell.label],
            cell.workflow.value_model,
            spec.outcome_pricing,
            seed=spec.seed,
        )
        for cell in spec.cells
    }
    for cell in spec.cells:
        out[cell.label].metrics["planned_trials"] = planned_trials(spec, cell.label)
    return out


def planned_trials(spec: RunSpec, label: str) -> float:
    """The trials a cell was planned to run (tasks x k), as a metric value."""
    return float(len(spec.cell(label).workflow.tasks) * spec.trials)
