"""Trials nested in tasks: variance components, the design effect, and the cluster-robust
interval of a success rate.

The k trials of one task are not independent draws: a task an agent can do it mostly does
every time, and one it cannot it mostly fails every time. With ω² the variance of the tasks'
true rates (between tasks) and σ² the mean variance of a trial around its task's rate (within
a task), the mean over N tasks × k trials has variance (ω² + σ²/k) / N (Miller, "Adding Error
Bars to Evals", arXiv 2411.00640) — not the (ω² + σ²) / (N k) a pooled binomial interval
assumes. ICC = ω² / (ω² + σ²); design effect 1 + (k − 1) · ICC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roibench.results.stats import t_quantile, wilson_bounds

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class VarianceComponents:
    """One-way random-effects (ANOVA) decomposition of a per-trial quantity over tasks."""

    tasks: int
    """N: tasks with at least one trial."""
    trials: int
    """Trials in all."""
    mean: float
    """Mean over trials."""
    between: float
    """ω²: variance of the tasks' true means (method of moments, floored at 0)."""
    within: float | None
    """σ²: variance of a trial around its task's mean; None when no task has two trials
    (then `between` holds the whole variance of a task's mean, not separable)."""
    trials_per_task: float
    """n₀ = (n − Σnᵢ²/n) / (N − 1): k for a balanced design."""

    @property
    def icc(self) -> float | None:
        """Intra-task correlation ω² / (ω² + σ²); None when not separable or no variance."""
        if self.within is None or self.between + self.within <= 0:
            return None
        return self.between / (self.between + self.within)

    @property
    def design_effect(self) -> float | None:
        """1 + (n₀ − 1) · ICC: how much the pooled binomial variance understates."""
        icc = self.icc
        return None if icc is None else 1 + (self.trials_per_task - 1) * icc

    def var_of_mean(self, tasks: int, trials_per_task: int) -> float:
        """(ω² + σ²/k) / N: the variance of a cell's mean in a design of N tasks × k trials."""
        return (self.between + (self.within or 0.0) / trials_per_task) / tasks


def components_from_sums(
    n: FloatArray, s1: FloatArray, s2: FloatArray
) -> VarianceComponents | None:
    """The components from per-task trial counts n, sums Σx and sums of squares Σx² (for a
    0/1 outcome Σx² = Σx). Unbalanced designs use the classical n₀ (Searle). None without
    tasks; ω² = 0 with a single task."""
    import numpy as np

    keep = n > 0
    n, s1, s2 = n[keep], s1[keep], s2[keep]
    tasks = int(n.size)
    total = float(n.sum())
    if tasks == 0 or total == 0:
        return None
    mean = float(s1.sum()) / total
    task_means = s1 / n
    ss_within = float(np.sum(np.maximum(s2 - s1 * task_means, 0.0)))
    df_within = total - tasks
    within = ss_within / df_within if df_within > 0 else None
    if tasks < 2:
        return VarianceComponents(tasks, int(total), mean, 0.0, within, total)
    ms_between = float(np.sum(n * (task_means - mean) ** 2)) / (tasks - 1)
    n0 = (total - float(np.sum(n * n)) / total) / (tasks - 1)
    between = max(0.0, (ms_between - (within or 0.0)) / n0)
    return VarianceComponents(tasks, int(total), mean, between, within, n0)


def binary_components(n: FloatArray, successes: FloatArray) -> VarianceComponents | None:
    """The components of a 0/1 outcome (e.g. resolved) from per-task counts."""
    return components_from_sums(n, successes, successes)


def cluster_robust_variance(n: FloatArray, successes: FloatArray) -> float | None:
    """CR1 variance of the pooled rate p = Σy / Σn with tasks as clusters:
    N/(N−1) · Σᵢ (yᵢ − p nᵢ)² / (Σn)² — the sandwich variance of a regression on a constant
    with clustered errors (statsmodels' cov_type='cluster'). None below two tasks."""
    import numpy as np

    keep = n > 0
    n, y = n[keep], successes[keep]
    tasks = int(n.size)
    total = float(n.sum())
    if tasks < 2 or total == 0:
        return None
    p = float(y.sum()) / total
    return tasks / (tasks - 1) * float(np.sum((y - p * n) ** 2)) / total**2


def cluster_wilson_interval(
    n: FloatArray, successes: FloatArray, level: float = 0.95
) -> tuple[float, float] | None:
    """The headline success interval: Wilson's score interval at the effective sample size
    n_eff = p(1 − p) / V_CR (the trials' count divided by the measured design effect), with
    Student's t on N − 1 degrees of freedom as the critical value.

    The Wilson form keeps the interval inside [0, 1] and sensible near 0% and 100%; t covers
    the uncertainty of V_CR itself at small N. With p = 0 or 1 the design effect cannot be
    measured and n_eff = N (the fully clustered case: as if every task were one trial); with
    V_CR = 0 otherwise (every task at the same rate) n_eff is the trials' count. None below
    two tasks: one task says nothing about the spread of tasks.
    """
    import numpy as np

    keep = n > 0
    tasks = int(np.count_nonzero(keep))
    total = float(n[keep].sum())
    variance = cluster_robust_variance(n, successes)
    if variance is None:
        return None
    p = float(successes[keep].sum()) / total
    if p <= 0.0 or p >= 1.0:
        n_eff = float(tasks)
    elif variance > 0:
        n_eff = p * (1 - p) / variance
    else:
        n_eff = total
    z = t_quantile(1 - (1 - level) / 2, tasks - 1)
    low, high = wilson_bounds(p, n_eff, z)
    return (low if math.isfinite(low) else 0.0), (high if math.isfinite(high) else 1.0)
