"""Per-cell figures as flat metric dicts with stable names (the MLflow metric names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from roibench.economics import CellEconomics, OutcomePricing, ValueModel, cell_economics
from roibench.metrics import percentile
from roibench.records import TrialRecord
from roibench.usage import Usage

if TYPE_CHECKING:
    from roibench.runner import RunPlan


@dataclass(frozen=True)
class CellSummary:
    """A cell's label, economics and flat metrics."""

    label: str
    economics: CellEconomics
    metrics: dict[str, float]
    usage: Usage


def _f(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


USER_SIM_ROLE = "user_sim"


def _agent_view(trial: TrialRecord) -> TrialRecord:
    """The trial without its user-simulator calls: spend, cost per outcome, ROI, tokens and
    latency are the agent's; the user simulator is reported apart (`user_sim_*` metrics)."""
    if all(c.role != USER_SIM_ROLE for c in trial.calls):
        return trial
    calls = tuple(c for c in trial.calls if c.role != USER_SIM_ROLE)
    costs = [c.cost_usd for c in calls]
    cost = (
        None
        if any(x is None for x in costs)
        else sum((x for x in costs if x is not None), Decimal(0))
    )
    usage = sum((c.usage for c in calls), Usage())
    return trial.model_copy(update={"calls": calls, "cost_usd": cost, "usage": usage})


def _user_sim_metrics(
    trials: Sequence[TrialRecord], econ: CellEconomics
) -> dict[str, float | None]:
    """The user simulator's spend and requests, and spend / cost per outcome with it included:
    cost_per_outcome_with_user_sim_usd = (agent spend + user-simulator spend) / S."""
    calls = [c for t in trials for c in t.calls if c.role == USER_SIM_ROLE]
    spend: Decimal | None = Decimal(0)
    if any(c.cost_usd is None for c in calls):
        spend = None
    else:
        spend = sum((c.cost_usd for c in calls if c.cost_usd is not None), Decimal(0))
    both = None if spend is None or econ.spend_usd is None else econ.spend_usd + spend
    resolved = econ.counts.resolved
    return {
        "user_sim_requests": float(sum(c.usage.requests for c in calls)),
        "user_sim_spend_usd": _f(spend),
        "spend_with_user_sim_usd": _f(both),
        "cost_per_outcome_with_user_sim_usd": _f(both / resolved)
        if both is not None and resolved
        else None,
    }


def _reliability_metrics(trials: Sequence[TrialRecord]) -> dict[str, float | None]:
    """Retries, cache hits, estimated usage and the spend of attempts lost in a crash (apart
    from spend_usd, which covers the trials' own calls)."""
    calls = [c for t in trials for c in t.calls]
    lost = [c for t in trials for c in t.lost_calls]
    lost_spend: Decimal | None = Decimal(0)
    for c in lost:
        lost_spend = None if lost_spend is None or c.cost_usd is None else lost_spend + c.cost_usd
    return {
        "retried_calls": float(sum(1 for c in calls if c.error)),
        "cached_calls": float(sum(1 for c in calls if c.cached)),
        "estimated_usage_calls": float(sum(1 for c in calls if c.usage_estimated)),
        "lost_calls": float(len(lost)),
        "lost_spend_usd": _f(lost_spend),
    }


def summarize_cell(
    label: str,
    trials: Sequence[TrialRecord],
    value: ValueModel,
    pricing: OutcomePricing,
    *,
    write_tools: frozenset[str] = frozenset(),
    seed: int = 0,
) -> CellSummary:
    """Economics plus the metric dict logged to MLflow. Undefined figures are left out."""
    all_trials, trials = trials, [_agent_view(t) for t in trials]  # user simulator apart
    econ = cell_economics(trials, value, pricing, write_tools=write_tools, bootstrap_seed=seed)
    c = econ.counts
    total = c.total or 1
    latencies = [call.latency_s for t in trials for call in t.calls]
    usage = sum((t.usage for t in trials), Usage())
    m: dict[str, float | None] = {
        "trials": float(c.total),
        "tasks": float(econ.tasks),
        "success_rate": econ.success_rate,
        "escalation_rate": c.escalated / total,
        "failure_rate": c.failed / total,
        "harm_rate": c.harmful / total,
        "error_rate": c.error / total,
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
        "invalid_tool_calls": float(sum(t.invalid_tool_calls for t in trials)),
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
    m.update(_user_sim_metrics(all_trials, econ))
    m.update(_reliability_metrics(all_trials))
    return CellSummary(
        label=label,
        economics=econ,
        metrics={k: v for k, v in m.items() if v is not None},
        usage=usage,
    )


def journal_economics(plan: RunPlan) -> dict[str, Any]:
    """What `roibench reprice` needs to recompute a run from its journal alone: the outcome
    pricing, and per cell the price source in full (cards and FX rates, or the genai-prices
    reference), the value model and the write tools. Goes in the journal header."""
    cells: dict[str, Any] = {}
    for cell in plan.cells:
        pricer = cell.price
        cells[cell.label] = {
            "model": cell.model.name,
            "provider": cell.model.provider,
            "model_id": cell.model.model_id,
            "price_ref": pricer.ref if pricer is not None else None,
            "price": pricer.snapshot() if pricer is not None else None,
            "value_model": cell.workflow.value_model.model_dump(mode="json"),
            "write_tools": sorted(cell.workflow.write_tools),
        }
    return {
        "outcome_pricing": plan.suite.config.outcome_pricing.model_dump(mode="json"),
        "bootstrap_seed": plan.seed,
        "cells": cells,
    }
