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

from roibench.results.cluster import VarianceComponents
from roibench.results.stats import t_quantile

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
