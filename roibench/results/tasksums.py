"""A cell's per-task totals as a matrix, and its figures as vectorised functions of column sums.

Every figure of a cell — success rate, pass^j, cost per outcome, both ROIs, margin, the price
corridor, break-even — is a function of sums over its tasks of per-task totals. So a bootstrap
resample is one row of `weights @ columns` and a sign-flip permutation one row of
`signs @ (A − B) / 2`: all resamples of all figures from one matrix product, in float, by the
same formulas as `economics` (which keeps the point figures exact, in Decimal).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from roibench.config.value import OutcomePricing, ValueModel
from roibench.results.stats import (
    RESAMPLES,
    expanded_tail,
    percentile_interval,
    resample_weights,
    resampled_sums,
)
from roibench.results.tally import TaskTally

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]


class Figure(StrEnum):
    """Figures with a task-bootstrap interval (their MLflow metric names); pass^j figures are
    named `pass_hat_<j>` besides these."""

    SUCCESS_RATE = "success_rate"
    ESCALATION_RATE = "escalation_rate"
    COST_PER_TASK = "cost_per_task_usd"
    COST_PER_OUTCOME = "cost_per_outcome_usd"
    ROI_TOKEN = "roi_token_pricing"
    ROI_OUTCOME = "roi_outcome_pricing"
    VENDOR_MARGIN = "vendor_margin_outcome"
    HARM_PER_TRIAL = "harm_per_trial_usd"
    """Harm $ (measured loss plus redo and undo) per trial."""
    CORRIDOR_LOW = "price_corridor_low_usd"
    CORRIDOR_HIGH = "price_corridor_high_usd"
    BREAK_EVEN = "break_even_success_rate"


COST_FIGURES = frozenset(
    {
        Figure.COST_PER_TASK,
        Figure.COST_PER_OUTCOME,
        Figure.ROI_TOKEN,
        Figure.VENDOR_MARGIN,
        Figure.CORRIDOR_LOW,
        Figure.BREAK_EVEN,
    }
)
"""Figures that need the spend: undefined (never 0) when a call is unpriced."""

BASE_COLUMNS = (
    "n", "resolved", "escalated", "failed", "harmful", "error", "spend", "loss", "actions",
)  # fmt: skip
"""Per-task totals; pass^j adds `q<j>` = C(c, j) / C(n, j) and `has<j>` = [n ≥ j]."""


def pass_name(j: int) -> str:
    """The metric name of pass^j."""
    return f"pass_hat_{j}"


@dataclass(frozen=True)
class EconParams:
    """The value model and outcome pricing as floats, for the vectorised formulas."""

    human: float
    escalation: float
    rework: float
    price: float
    base_fee: float
    scheme: str
    bill_escalations: bool
    refund_harmful: bool

    @classmethod
    def of(cls, value: ValueModel, pricing: OutcomePricing) -> EconParams:
        """From the typed models."""
        return cls(
            human=float(value.human_cost_per_task_usd),
            escalation=float(value.escalation_usd),
            rework=float(value.rework_cost_usd),
            price=float(pricing.price_usd),
            base_fee=float(pricing.base_fee_usd) if pricing.scheme == "hybrid" else 0.0,
            scheme=pricing.scheme,
            bill_escalations=pricing.bill_escalations,
            refund_harmful=pricing.refund_harmful,
        )


@dataclass(frozen=True)
class TaskMatrix:
    """Per-task totals of one cell, one row per task in task-id order."""

    task_ids: tuple[str, ...]
    columns: FloatArray
    """tasks × len(names)."""
    names: tuple[str, ...]
    priced: bool
    """Every call of the cell had a price."""

    def index(self) -> dict[str, int]:
        """Column positions by name."""
        return {name: i for i, name in enumerate(self.names)}

    def totals(self) -> dict[str, float]:
        """Column sums over all tasks."""
        sums = self.columns.sum(axis=0)
        return {name: float(sums[i]) for i, name in enumerate(self.names)}

    def rows(self, task_ids: Sequence[str]) -> TaskMatrix:
        """The matrix restricted to `task_ids`, in that order."""
        where = {t: i for i, t in enumerate(self.task_ids)}
        picked = [where[t] for t in task_ids]
        return TaskMatrix(tuple(task_ids), self.columns[picked], self.names, self.priced)


def pass_levels_columns(n: int, resolved: int, levels: Sequence[int]) -> list[float]:
    """q<j>, has<j> for each level j: C(c, j) / C(n, j) and [n ≥ j]."""
    out: list[float] = []
    for j in levels:
        ok = n >= j
        out += [math.comb(resolved, j) / math.comb(n, j) if ok else 0.0, float(ok)]
    return out


def column_names(levels: Sequence[int]) -> tuple[str, ...]:
    """BASE_COLUMNS then q<j>, has<j> per level."""
    extra = tuple(name for j in levels for name in (f"q{j}", f"has{j}"))
    return BASE_COLUMNS + extra


def matrix_of_tallies(
    tasks: Mapping[str, TaskTally], levels: Sequence[int], *, priced: bool
) -> TaskMatrix:
    """A cell's matrix from its running tally's per-task counts."""
    import numpy as np

    ids = tuple(sorted(tasks))
    rows = []
    for task_id in ids:
        g = tasks[task_id]
        base = [g.n, g.resolved, g.escalated, g.failed, g.harmful, g.error, g.spend_usd,
                g.loss_usd, g.actions]  # fmt: skip
        rows.append([*base, *pass_levels_columns(g.n, g.resolved, levels)])
    names = column_names(levels)
    columns = np.array(rows, dtype=np.float64).reshape(len(ids), len(names))
    return TaskMatrix(ids, columns, names, priced)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den, NaN where den is 0 (the figure is undefined there)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


def evaluate(name: str, s: Mapping[str, FloatArray], p: EconParams) -> FloatArray:
    """Figure `name` from column sums `s` (arrays of any one shape); NaN where undefined.
    The formulas of `economics` (DESIGN.md, Economics), in float."""
    import numpy as np

    n, resolved, escalated = s["n"], s["resolved"], s["escalated"]
    failed, harmful, error, spend = s["failed"], s["harmful"], s["error"], s["spend"]
    if name.startswith("pass_hat_"):
        j = name.removeprefix("pass_hat_")
        return _ratio(s[f"q{j}"], s[f"has{j}"])
    simple = {
        Figure.SUCCESS_RATE: (resolved, n),
        Figure.ESCALATION_RATE: (escalated, n),
        Figure.COST_PER_TASK: (spend, n),
        Figure.COST_PER_OUTCOME: (spend, resolved),
    }.get(Figure(name))
    if simple is not None:  # the common figures, without the economics below
        return _ratio(*simple)
    redo = p.human + p.rework
    human_terms = p.escalation * escalated + redo * failed + p.human * error
    harm = s["loss"] + redo * harmful
    baseline = p.human * n
    if p.scheme == "per_action":
        billable = s["actions"]
    elif p.scheme == "per_conversation":
        billable = n - harmful if p.refund_harmful else n
    else:
        billable = resolved + (escalated if p.bill_escalations else 0.0)
        billable = billable + (0.0 if p.refund_harmful else harmful)
    base_fees = p.base_fee * n
    fees = p.price * billable + base_fees
    positive_fees = np.where(fees > 0, fees, 0.0)
    match Figure(name):
        case Figure.HARM_PER_TRIAL:
            return _ratio(harm, n)
        case Figure.ROI_TOKEN:
            return _ratio(baseline - (spend + human_terms + harm), np.where(spend > 0, spend, 0))
        case Figure.ROI_OUTCOME:
            return _ratio(baseline - (fees + human_terms + harm), positive_fees)
        case Figure.VENDOR_MARGIN:
            return _ratio(fees - spend, positive_fees)
        case Figure.CORRIDOR_LOW:
            billed = np.where(billable > 0, billable, 0.0)
            return np.maximum(_ratio(spend - base_fees, billed), 0.0)
        case Figure.CORRIDOR_HIGH:
            billed = np.where(billable > 0, billable, 0.0)
            return _ratio(baseline - human_terms - harm - base_fees, billed)
        case Figure.BREAK_EVEN:
            if p.price <= 0 or p.scheme not in ("per_resolution", "hybrid"):
                return np.full(np.shape(n), np.nan)
            per_trial = _ratio(spend, n) - p.base_fee
            return np.maximum(per_trial, 0.0) / p.price
        case _:
            raise ValueError(f"no formula for {name!r}")


def sums_view(sums: FloatArray, names: Sequence[str]) -> dict[str, FloatArray]:
    """Columns of a (resamples × m) sums array by name."""
    return {name: sums[..., i] for i, name in enumerate(names)}


def defined(name: str, priced: bool) -> bool:
    """Whether figure `name` can be computed for a cell (cost figures need every price)."""
    return priced or name not in COST_FIGURES


def cell_intervals(
    matrix: TaskMatrix,
    params: EconParams,
    figures: Sequence[str],
    *,
    seed: int,
    resamples: int = RESAMPLES,
    level: float = 0.95,
) -> dict[str, tuple[float, float] | None]:
    """Task-bootstrap intervals (expanded percentile) of `figures`, all from one seeded
    resample matrix: each task keeps its k trials together."""
    tasks = len(matrix.task_ids)
    tail = expanded_tail(tasks, level)
    if tail is None:
        return dict.fromkeys(figures)
    boot = sums_view(
        resampled_sums(resample_weights(tasks, resamples, seed), matrix.columns), matrix.names
    )
    return {
        name: percentile_interval(evaluate(name, boot, params), tail, resamples)
        if defined(name, matrix.priced)
        else None
        for name in figures
    }
