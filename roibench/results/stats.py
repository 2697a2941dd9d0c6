"""Reliability statistics: pass^k, Wilson intervals, the task bootstrap (numpy, vectorised)."""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

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


def _betainc_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularised incomplete beta function I_x(a, b), in double precision; `y` is 1 − x
    where the caller knows it more exactly than 1 − x can be computed."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betainc_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betainc_fraction(b, a, y) / b


def t_tail(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom and t ≥ 0, without cancellation
    in either tail."""
    x, y = df / (df + t * t), t * t / (df + t * t)
    a = df / 2.0
    if x < (a + 1.0) / (a + 2.5):  # where I_x(a, 1/2) is its continued fraction itself
        return 0.5 * betainc(a, 0.5, x, y)
    return 0.5 - 0.5 * betainc(0.5, a, y, x)


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function."""
    return 1.0 - t_tail(t, df) if t > 0 else t_tail(-t, df)


def t_quantile(q: float, df: float) -> float:
    """Student's t quantile, to about 1e-13 relative (pure Python: a run's summary does not
    wait for scipy's ~0.4 s import). Newton's method on the log of the tail probability, kept
    inside a bracket."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"a quantile needs 0 < q < 1, not {q}")
    if q == 0.5:
        return 0.0
    p = min(q, 1.0 - q)
    sign = 1.0 if q > 0.5 else -1.0
    log_p = math.log(p)
    log_density_front = (
        math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    )
    lo, hi = 0.0, max(1.0, -normal_quantile(p))
    while t_tail(hi, df) > p:
        lo, hi = hi, hi * 2.0
    t = hi
    for _ in range(200):
        tail = t_tail(t, df)
        if tail == p:
            return sign * t
        if tail < p:
            hi = t
        else:
            lo = t
        density = math.exp(log_density_front - (df + 1) / 2 * math.log1p(t * t / df))
        step = t + (math.log(tail) - log_p) * tail / density if tail > 0 else lo
        t_next = step if lo < step < hi else (lo + hi) / 2.0
        if abs(t_next - t) <= 1e-15 * t:
            return sign * t_next
        t = t_next
    return sign * t


def normal_quantile(q: float) -> float:
    """Standard normal quantile (the standard library's, Wichura's AS 241)."""
    return statistics.NormalDist().inv_cdf(q)


def normal_cdf(x: float) -> float:
    """Standard normal distribution function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def wilson_bounds(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score bounds of a proportion p observed on n (possibly effective, non-integer)
    observations, at critical value z."""
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


RESAMPLES = 1000
"""Bootstrap resamples per interval."""


@functools.lru_cache(maxsize=2)
def resample_weights(n: int, resamples: int, seed: int) -> npt.NDArray[np.int32]:
    """The bootstrap's resample matrix for n groups (tasks): row b holds how often each group
    is drawn in resample b (n draws with replacement, numpy's PCG64 seeded with `seed`).
    Cached and read-only: every interval of a cell — and both cells of a paired comparison —
    resamples with the same matrix, so a cell's figures move together across resamples."""
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = np.empty((resamples, n), dtype=np.int32)
    step = max(1, 2**20 // max(n, 1))  # rows per block: ~8 MB of draws whatever n is
    for r0 in range(0, resamples, step):
        # 64-bit bounded draws are sequential: blocks give the same stream as one draw
        rows = min(step, resamples - r0)
        draws = rng.integers(0, n, size=(rows, n))
        flat = (np.arange(rows, dtype=np.int64)[:, None] * n + draws).ravel()
        weights[r0 : r0 + rows] = np.bincount(flat, minlength=rows * n).reshape(rows, n)
    weights.flags.writeable = False
    return weights


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    """threadpoolctl's controller of the loaded BLAS, or None (created once: ~10 ms)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - installed with roibench
        return None
    return ThreadpoolController()


def one_blas_thread() -> Any:
    """A context with BLAS on one thread. These products are small (1,000 × 1,000 × 15 at
    1,000 tasks); on a busy machine BLAS threads cost more in hand-offs than they save
    (measured 3.7 ms vs 9.3 ms median under load), and the run's other work wants the cores."""
    import contextlib

    controller = _blas_controller()
    return (
        contextlib.nullcontext()
        if controller is None
        else controller.limit(limits=1, user_api="blas")
    )


def resampled_sums(weights: npt.NDArray[np.int32], columns: npt.NDArray[np.float64]) -> Any:
    """Column sums of `columns` (groups x m) in every resample: weights @ columns, in blocks
    of rows so a large cell never builds a float copy of the whole matrix."""
    import numpy as np

    out = np.empty((weights.shape[0], columns.shape[1]))
    step = 256
    with one_blas_thread():
        for r0 in range(0, weights.shape[0], step):
            out[r0 : r0 + step] = weights[r0 : r0 + step].astype(np.float64) @ columns
    return out


def expanded_tail(groups: int, level: float = 0.95) -> float | None:
    """The lower tail probability of Hesterberg's expanded percentile interval: the percentile
    bootstrap is too narrow at small n (its spread is the plug-in one, a factor sqrt((n-1)/n)
    small, and it uses normal rather than t tails), so the percentiles are taken at
    Φ(−sqrt(n/(n−1)) · t_{n−1, 1−α/2}) instead of α/2. None below two groups."""
    if groups < 2:
        return None
    t = t_quantile(1 - (1 - level) / 2, groups - 1)
    return normal_cdf(-math.sqrt(groups / (groups - 1)) * t)


def percentile_interval(values: Any, tail: float, resamples: int) -> tuple[float, float] | None:
    """The (tail, 1 − tail) order statistics of the finite values among a statistic's
    resamples (NaN where it is undefined); None when most resamples are undefined."""
    import numpy as np

    finite = np.sort(values[np.isfinite(values)])
    if finite.size == 0 or finite.size < resamples / 2:
        return None
    last = finite.size - 1
    return float(finite[math.floor(tail * last)]), float(finite[math.ceil((1 - tail) * last)])


def bootstrap_interval(
    groups: Sequence[T],
    statistic: Callable[[list[T]], float | None],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Expanded percentile bootstrap CI of any `statistic`, resampling whole groups (tasks)
    with replacement (the resample matrix of `resample_weights`). One Python call per
    resample: the cell figures use the vectorised `results.tasksums` instead.

    Seeded, so the same data gives the same interval. Resamples where the statistic is
    undefined (e.g. no success, so no cost per outcome) are dropped; None if most are, or
    with fewer than two groups.
    """
    import numpy as np

    tail = expanded_tail(len(groups), level)
    if tail is None:
        return None
    weights = resample_weights(len(groups), resamples, seed)
    values = np.full(resamples, np.nan)
    for b in range(resamples):
        sample = [g for g, w in zip(groups, weights[b], strict=True) for _ in range(w)]
        value = statistic(sample)
        if value is not None:
            values[b] = value
    return percentile_interval(values, tail, resamples)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
