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
