"""Detectable differences and sample sizes for paired comparisons of cells on the same tasks.

A paired comparison of cells A and B on N tasks × k trials estimates Δ from the per-task
differences dᵢ; with ω_d² the variance of the tasks' true differences and σ_A², σ_B² the
within-task variances, Var(Δ̂) = (ω_d² + (σ_A² + σ_B²)/k) / N. The minimum detectable
difference at power 1 − β, two-sided level α, is

    MDD = (t_{N−1, 1−α/2} + t_{N−1, 1−β}) · sqrt(Var(Δ̂))

(t rather than z quantiles: the test estimates the variance from N tasks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from roibench.results.cluster import VarianceComponents
from roibench.results.stats import normal_quantile, t_quantile

ALPHA = 0.05
POWER = 0.80


def power_multiplier(tasks: int, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """t_{N−1, 1−α/2} + t_{N−1, power}; None below two tasks."""
    if tasks < 2:
        return None
    return t_quantile(1 - alpha / 2, tasks - 1) + t_quantile(power, tasks - 1)


def mdd(
    var_of_difference: float, tasks: int, alpha: float = ALPHA, power: float = POWER
) -> float | None:
    """The minimum detectable difference for an estimate of variance `var_of_difference`
    from `tasks` tasks; None below two tasks."""
    m = power_multiplier(tasks, alpha, power)
    if m is None or var_of_difference < 0:
        return None
    return m * math.sqrt(var_of_difference)


def like_cell_mdd(c: VarianceComponents) -> float | None:
    """A cell's MDD against another cell of the same design and components on the same
    tasks, their task effects taken as uncorrelated (ω_d² = 2ω²; a positive correlation,
    usual between models, only makes the real paired MDD smaller):
    (t + t) · sqrt(2 (ω² + σ²/n₀) / N)."""
    if c.tasks < 2:
        return None
    var = 2 * (c.between + (c.within or 0.0) / c.trials_per_task) / c.tasks
    return mdd(var, c.tasks)


@dataclass(frozen=True)
class PairedComponents:
    """Variance components of a paired difference on N tasks: ω_d² of the tasks' true
    differences, σ² within a task of each cell, and each cell's mean 1/nᵢ."""

    tasks: int
    between: float
    within_a: float
    within_b: float
    inv_k_a: float
    inv_k_b: float

    def var_of_difference(self, tasks: int | None = None, k: int | None = None) -> float:
        """Var(Δ̂) = (ω_d² + σ_A²/k + σ_B²/k) / N — at the design that was run by default."""
        n = self.tasks if tasks is None else tasks
        if k is None:
            return (self.between + self.within_a * self.inv_k_a + self.within_b * self.inv_k_b) / n
        return (self.between + (self.within_a + self.within_b) / k) / n

    def scaled(self, factor: float) -> PairedComponents:
        """Every variance times `factor` (planning with an upper bound of the pilot's)."""
        return PairedComponents(
            self.tasks, self.between * factor, self.within_a * factor, self.within_b * factor,
            self.inv_k_a, self.inv_k_b,
        )  # fmt: skip


PILOT_CONFIDENCE = 0.80
"""Plans use the pilot's variances at their one-sided upper 80% confidence limit (Browne,
"On the use of a pilot sample for sample size determination", 1995): a pilot's variance is
itself an estimate, and planning on the point estimate reaches the power only about half of
the time."""

MAX_TRIALS_PER_TASK = 20


class Metric(StrEnum):
    """What `roibench plan` sizes a comparison for."""

    SUCCESS_RATE = "success_rate"
    """--detect is a difference of rates (0.05 = 5 points)."""
    COST_PER_OUTCOME = "cost_per_outcome_usd"
    """--detect is relative to the pilot's cost per outcome (0.05 = 5%)."""


class Design(BaseModel):
    """One (tasks, trials) design and what it costs."""

    model_config = ConfigDict(frozen=True)

    tasks: int
    trials_per_task: int
    trials: int = Field(description="Trials in all cells.")
    mdd: float = Field(description="Worst pair's minimum detectable difference (absolute).")
    spend_usd: float | None = Field(description="Expected spend; None when unpriced.")
    wall_s: float | None = Field(description="At the pilot's throughput.")


class PlanTarget(BaseModel):
    """One pair of pilot cells: its measured components and the difference to detect."""

    model_config = ConfigDict(frozen=True)

    a: str
    b: str = Field(description="'(a like cell)' for a one-cell pilot.")
    between: float = Field(description="ω_d²: variance of the tasks' true differences.")
    within_a: float
    within_b: float
    delta: float = Field(description="Absolute difference to detect, in the metric's units.")


class PlanResult(BaseModel):
    """The cheapest design detecting the target, and the evidence."""

    model_config = ConfigDict(frozen=True)

    metric: Metric
    detect: float = Field(description="The target as given (absolute, or relative for CPO).")
    cells: int = Field(description="Cells a run of the design has (2 for a one-cell pilot).")
    pairs: int = Field(description="Pairs of pilot cells the variance comes from.")
    pilot_tasks: int
    pilot_trials_per_task: int
    pilot_mdd: float | None = Field(description="MDD of the pilot's own design (point estimate).")
    tasks_available: int
    inflation: float = Field(description="Variance factor for the pilot's upper 80% limit.")
    chosen: Design | None
    candidates: tuple[Design, ...] = Field(description="The smallest N at each k that works.")
    tasks_needed: int | None = Field(
        default=None,
        description="When no k works with the tasks available: tasks needed at the cheapest k.",
    )
    tasks_needed_any_k: int | None = Field(
        default=None, description="Tasks needed even with unlimited trials per task."
    )
    best_within_budget: Design | None = None
    targets: tuple[PlanTarget, ...] = Field(default=(), description="Point estimates.")
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PairTarget:
    """One pair's components and the absolute difference it must detect."""

    components: PairedComponents
    delta: float

    def ratio(self, k: int) -> float:
        """N · Var(Δ̂) / δ² at k trials per task: a design of N tasks detects δ when
        multiplier(N)² · ratio / N ≤ 1."""
        c = self.components
        return (c.between + (c.within_a + c.within_b) / k) / self.delta**2


def tasks_for(ratio: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """The smallest N ≥ 2 with (t_{N−1,1−α/2} + t_{N−1,power})² · ratio / N ≤ 1."""
    if ratio <= 0:
        return 2
    z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
    n = max(2, math.ceil(z * z * ratio))
    while True:
        m = power_multiplier(n, alpha, power)
        assert m is not None
        need = max(2, math.ceil(m * m * ratio))
        if need <= n:
            return n
        n = need


def inflation_factor(pilot_tasks: int, confidence: float = PILOT_CONFIDENCE) -> float:
    """df / χ²_{df}(1 − confidence): the upper `confidence` limit of a variance estimated on
    df = N − 1 degrees of freedom, as a multiple of the estimate."""
    from scipy.special import chdtri

    df = max(1, pilot_tasks - 1)
    return df / float(chdtri(df, confidence))


def plan_design(
    targets: list[PairTarget],
    *,
    metric: Metric,
    detect: float,
    cells: int,
    pilot_tasks: int,
    pilot_k: int,
    tasks_available: int,
    cost_per_task_trial: float | None,
    throughput: float | None,
    max_spend: float | None = None,
    max_k: int = MAX_TRIALS_PER_TASK,
) -> PlanResult:
    """The cheapest design (fewest trials, hence least spend at a fixed cost per trial) with
    every pair's MDD ≤ its target, N ≤ tasks available and spend ≤ max_spend.
    `cost_per_task_trial`: the spend of one trial of every cell (one task, one trial each)."""
    factor = inflation_factor(pilot_tasks)
    scaled = [PairTarget(t.components.scaled(factor), t.delta) for t in targets]

    def worst(pairs: list[PairTarget], n: int | None, k: int | None) -> float:
        """The worst pair's MDD as a share of its target, times the target as given (so in
        --detect's units: points, or a share of the cost per outcome)."""
        shares = []
        for t in pairs:
            tasks = t.components.tasks if n is None else n
            found = mdd(t.components.var_of_difference(n, k), tasks)
            shares.append(math.inf if found is None else found / t.delta)
        return max(shares, default=math.inf) * detect

    def design(n: int, k: int) -> Design:
        trials = n * k * cells
        return Design(
            tasks=n,
            trials_per_task=k,
            trials=trials,
            mdd=worst(scaled, n, k),
            spend_usd=None if cost_per_task_trial is None else n * k * cost_per_task_trial,
            wall_s=None if not throughput else trials / throughput,
        )

    pilot_mdd = worst(targets, None, None)
    unlimited = [design(tasks_for(max(t.ratio(k) for t in scaled)), k) for k in range(1, max_k + 1)]
    candidates = tuple(d for d in unlimited if d.tasks <= tasks_available)
    notes: list[str] = []
    within = [d for d in candidates if max_spend is None or (d.spend_usd or 0) <= max_spend]
    chosen = min(within, key=lambda d: (d.trials, d.trials_per_task), default=None)
    tasks_needed = tasks_needed_any_k = None
    if not candidates:
        cheapest = min(unlimited, key=lambda d: (d.trials, d.trials_per_task))
        tasks_needed = cheapest.tasks
        floor = max(t.components.between / t.delta**2 for t in scaled)
        tasks_needed_any_k = tasks_for(floor) if floor > 0 else None
        notes.append(
            f"the dataset has {tasks_available} tasks: too few to detect the target at any k "
            f"up to {max_k}; it needs {tasks_needed} tasks at k = {cheapest.trials_per_task}"
            + (
                f" and at least {tasks_needed_any_k} even with unlimited trials per task"
                if tasks_needed_any_k is not None
                else ""
            )
        )
    best = None
    if chosen is None and candidates and max_spend is not None:
        notes.append(f"no design that detects the target fits --max-spend ${max_spend:,.2f}")
        affordable = []
        for k in range(1, max_k + 1):
            n = tasks_available
            if cost_per_task_trial:
                n = min(n, int(max_spend // (k * cost_per_task_trial)))
            if n >= 2:
                affordable.append(design(n, k))
        best = min(affordable, key=lambda d: d.mdd, default=None)
    if cost_per_task_trial is None:
        notes.append("the pilot has unpriced calls: spend unknown; designs ranked by trials")
    return PlanResult(
        metric=metric,
        detect=detect,
        cells=cells,
        pairs=len(targets),
        pilot_tasks=pilot_tasks,
        pilot_trials_per_task=pilot_k,
        pilot_mdd=None if pilot_mdd is None or not math.isfinite(pilot_mdd) else pilot_mdd,
        tasks_available=tasks_available,
        inflation=factor,
        chosen=chosen,
        candidates=candidates,
        tasks_needed=tasks_needed,
        tasks_needed_any_k=tasks_needed_any_k,
        best_within_budget=best,
        notes=tuple(notes),
    )
