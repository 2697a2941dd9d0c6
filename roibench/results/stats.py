"""Reliability statistics: pass^k, Wilson intervals, bootstrap over tasks."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

Z95 = 1.959963984540054


def pass_hat_k(successes_per_task: Sequence[tuple[int, int]], k: int) -> float | None:
    """τ-bench's pass^k: mean over tasks of C(c, k) / C(n, k).

    `successes_per_task` holds (n trials, c successes) per task. Tasks with fewer than k trials
    cannot contribute; None if no task has k trials.
    """
    ratios = [math.comb(c, k) / math.comb(n, k) for n, c in successes_per_task if n >= k]
    if not ratios:
        return None
    return sum(ratios) / len(ratios)


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None for zero trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@functools.lru_cache(maxsize=16)
def resample_indices(n: int, resamples: int, seed: int) -> tuple[tuple[int, ...], ...]:
    """The bootstrap's resamples of n groups (indices drawn with replacement), seeded. Cached:
    a cell's intervals all resample the same tasks with the same seed, so they share draws."""
    rng = random.Random(seed)
    return tuple(tuple(rng.randrange(n) for _ in range(n)) for _ in range(resamples))


def bootstrap_interval(
    groups: Sequence[T],
    statistic: Callable[[list[T]], float | None],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap CI of `statistic`, resampling whole groups (tasks) with replacement.

    Seeded, so the same data gives the same interval. Resamples where the statistic is
    undefined (e.g. no success, so no cost per outcome) are dropped; None if most are.
    """
    if not groups:
        return None
    values: list[float] = []
    for indices in resample_indices(len(groups), resamples, seed):
        sample = [groups[i] for i in indices]
        value = statistic(sample)
        if value is not None and math.isfinite(value):
            values.append(value)
    if len(values) < resamples / 2:
        return None
    values.sort()
    tail = (1 - level) / 2
    low = values[math.floor(tail * (len(values) - 1))]
    high = values[math.ceil((1 - tail) * (len(values) - 1))]
    return low, high


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
