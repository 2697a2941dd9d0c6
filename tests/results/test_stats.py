"""pass^k, Wilson and bootstrap, checked against hand computations."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from roibench.results.stats import (
    bootstrap_interval,
    expanded_tail,
    normal_cdf,
    normal_quantile,
    pass_hat_k,
    percentile,
    resample_weights,
    t_cdf,
    t_quantile,
    wilson_interval,
)


def test_pass_hat_k_matches_tau_bench_definition() -> None:
    # τ-bench: pass^k = mean over tasks of C(c, k) / C(n, k)
    # task A: 4 trials, 3 successes; task B: 4 trials, 1 success; task C: 4 trials, 4 successes
    data = [(4, 3), (4, 1), (4, 4)]
    # k=1: (3/4 + 1/4 + 4/4) / 3 = 2/3
    assert pass_hat_k(data, 1) == pytest.approx(2 / 3)
    # k=2: C(3,2)/C(4,2)=3/6, C(1,2)=0, C(4,2)/C(4,2)=1 -> (0.5 + 0 + 1)/3 = 0.5
    assert pass_hat_k(data, 2) == pytest.approx(0.5)
    # k=4: 0 + 0 + 1 -> 1/3
    assert pass_hat_k(data, 4) == pytest.approx(1 / 3)


def test_pass_hat_k_needs_k_trials() -> None:
    assert pass_hat_k([(2, 2)], 3) is None
    assert pass_hat_k([], 1) is None


def test_wilson_interval_by_hand() -> None:
    # 8 of 10, z = 1.959964: centre = (0.8 + z²/20) / (1 + z²/10)
    z = 1.959963984540054
    n, p = 10, 0.8
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low, high = wilson_interval(8, 10)  # type: ignore[misc]
    assert low == pytest.approx(centre - half)
    assert high == pytest.approx(centre + half)
    assert 0.44 < low < 0.5 and 0.94 < high < 0.95  # the textbook 0.490 / 0.943
    assert wilson_interval(0, 0) is None


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    groups = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    a = bootstrap_interval(groups, mean, seed=3)
    b = bootstrap_interval(groups, mean, seed=3)
    assert a == b
    assert a is not None and a[0] < 4.5 < a[1]
    assert bootstrap_interval([], mean) is None


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([10.0], 95) == 10.0
    assert percentile([], 50) is None


def _expanded_tail(n: int) -> float:
    """Hesterberg's expanded percentile tail, by scipy.stats directly."""
    from scipy import stats

    return float(stats.norm.cdf(-math.sqrt(n / (n - 1)) * stats.t.ppf(0.975, n - 1)))


def test_expanded_tail_widens_small_samples() -> None:
    small, mid = expanded_tail(6), expanded_tail(60)
    assert small is not None and mid is not None
    assert small == pytest.approx(_expanded_tail(6))
    assert small < 0.01 < mid < 0.025  # n = 6: far wider
    assert expanded_tail(100_000) == pytest.approx(0.025, abs=1e-4)  # large n: plain percentile
    assert expanded_tail(1) is None


@pytest.mark.parametrize("df", [1, 1.5, 2, 4, 9, 29, 99, 999, 9999])
@pytest.mark.parametrize("q", [1e-12, 1e-6, 0.025, 0.1, 0.6, 0.8, 0.95, 0.975, 0.999, 1 - 1e-9])
def test_t_quantile_matches_scipy(df: float, q: float) -> None:
    """The pure-Python t quantile (the run's summary does not import scipy) against scipy."""
    from scipy import stats

    assert t_quantile(q, df) == pytest.approx(float(stats.t.ppf(q, df)), rel=1e-10)
    t = float(stats.t.ppf(q, df))
    assert t_cdf(t, df) == pytest.approx(q, rel=1e-9)


def test_t_quantile_by_hand() -> None:
    # df = 1 is the Cauchy distribution: the quantile is tan(pi (q - 1/2))
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-12)
    # df = 2 has a closed form: t = (2q - 1) sqrt(2 / (4 q (1 - q)))
    q = 0.9
    assert t_quantile(q, 2) == pytest.approx((2 * q - 1) * math.sqrt(2 / (4 * q * (1 - q))))
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.25, 7) == pytest.approx(-t_quantile(0.75, 7), rel=1e-13)
    assert normal_quantile(0.975) == pytest.approx(1.959963984540054, rel=1e-14)
    assert normal_cdf(1.959963984540054) == pytest.approx(0.975, rel=1e-14)
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_bootstrap_percentiles_match_a_direct_resampling() -> None:
    """The interval is the expanded-percentile pair of order statistics of the statistic over
    resamples drawn with numpy's default_rng(seed).integers — recomputed here directly, index
    lists and all, without the shared count matrix."""
    import numpy as np

    groups = [1.0, 4.0, 2.0, 8.0, 5.0, 7.0]
    draws = np.random.default_rng(11).integers(0, len(groups), size=(200, len(groups)))
    tail = _expanded_tail(len(groups))

    def interval(stat: Callable[[list[float]], float]) -> tuple[float, float]:
        values = sorted(stat([groups[i] for i in row]) for row in draws)
        return values[math.floor(tail * 199)], values[math.ceil((1 - tail) * 199)]

    def mean(sample: list[float]) -> float:
        return sum(sample) / len(sample)

    assert bootstrap_interval(groups, mean, resamples=200, seed=11) == pytest.approx(interval(mean))
    # another statistic on the same groups and seed reuses the draws and is still exact
    assert bootstrap_interval(groups, max, resamples=200, seed=11) == interval(max)


def test_resample_weights_count_the_draws() -> None:
    import numpy as np

    w = resample_weights(5, 40, 3)
    draws = np.random.default_rng(3).integers(0, 5, size=(40, 5))
    for row, drawn in zip(w, draws, strict=True):
        assert list(row) == [int((drawn == i).sum()) for i in range(5)]
    assert (w.sum(axis=1) == 5).all()
    assert not w.flags.writeable  # shared by every interval of a cell: nobody may change it
