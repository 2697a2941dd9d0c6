"""pass^k, Wilson and bootstrap, checked against hand computations."""

from __future__ import annotations

import math

import pytest

from roibench.results.stats import bootstrap_interval, pass_hat_k, percentile, wilson_interval


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


def test_bootstrap_percentiles_match_a_direct_resampling() -> None:
    """The interval is the 2.5th / 97.5th percentile of the statistic over resamples drawn
    with Random(seed).randrange — recomputed here directly, without the shared draws."""
    import math
    import random

    groups = [1.0, 4.0, 2.0, 8.0, 5.0, 7.0]

    def mean(sample: list[float]) -> float:
        return sum(sample) / len(sample)

    rng = random.Random(11)
    values = sorted(mean([groups[rng.randrange(len(groups))] for _ in groups]) for _ in range(200))
    low, high = values[math.floor(0.025 * 199)], values[math.ceil(0.975 * 199)]
    assert bootstrap_interval(groups, mean, resamples=200, seed=11) == (low, high)
    # another statistic on the same groups and seed reuses the draws and is still exact
    rng = random.Random(11)
    resamples = [[groups[rng.randrange(len(groups))] for _ in groups] for _ in range(200)]
    top = sorted(max(sample) for sample in resamples)
    assert bootstrap_interval(groups, max, resamples=200, seed=11) == (
        top[math.floor(0.025 * 199)],
        top[math.ceil(0.975 * 199)],
    )
