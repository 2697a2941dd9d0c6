"""Trials nested in tasks: the cluster-robust variance against statsmodels, the variance
components by hand and against statsmodels' mixed model, and the headline interval's coverage
by simulation at a known intra-task correlation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from roibench.results.cluster import (
    binary_components,
    cluster_robust_variance,
    cluster_wilson_interval,
    components_from_sums,
)
from roibench.results.stats import wilson_interval

Floats = npt.NDArray[np.float64]

# trial-level data of 5 tasks, unbalanced (2, 3, 3, 4, 1 trials)
TRIALS = {
    "a": [1, 1],
    "b": [1, 0, 1],
    "c": [0, 0, 0],
    "d": [1, 1, 1, 0],
    "e": [1],
}


def per_task(trials: dict[str, list[int]]) -> tuple[Floats, Floats]:
    n = np.array([len(v) for v in trials.values()], dtype=np.float64)
    y = np.array([sum(v) for v in trials.values()], dtype=np.float64)
    return n, y


def test_cluster_robust_variance_matches_statsmodels() -> None:
    import statsmodels.api as sm

    ys = [y for v in TRIALS.values() for y in v]
    groups = [i for i, v in enumerate(TRIALS.values()) for _ in v]
    fit = sm.OLS(np.array(ys, dtype=float), np.ones((len(ys), 1))).fit(
        cov_type="cluster", cov_kwds={"groups": np.array(groups)}
    )
    assert cluster_robust_variance(*per_task(TRIALS)) == pytest.approx(fit.bse[0] ** 2)
    assert cluster_robust_variance(np.array([3.0]), np.array([2.0])) is None  # one task


def test_variance_components_by_hand() -> None:
    # one-way ANOVA written out on the trial-level data
    values = list(TRIALS.values())
    n_i = [len(v) for v in values]
    n, big_n = sum(n_i), len(values)
    grand = sum(sum(v) for v in values) / n
    means = [sum(v) / len(v) for v in values]
    ssw = sum((y - m) ** 2 for v, m in zip(values, means, strict=True) for y in v)
    ssb = sum(len(v) * (m - grand) ** 2 for v, m in zip(values, means, strict=True))
    msw, msb = ssw / (n - big_n), ssb / (big_n - 1)
    n0 = (n - sum(x * x for x in n_i) / n) / (big_n - 1)
    omega2 = (msb - msw) / n0
    c = binary_components(*per_task(TRIALS))
    assert c is not None
    assert c.mean == pytest.approx(grand)
    assert c.within == pytest.approx(msw)
    assert c.between == pytest.approx(omega2)
    assert c.trials_per_task == pytest.approx(n0)
    assert c.icc == pytest.approx(omega2 / (omega2 + msw))
    assert c.design_effect == pytest.approx(1 + (n0 - 1) * omega2 / (omega2 + msw))


def test_components_need_two_trials_of_a_task_to_separate() -> None:
    c = binary_components(np.array([1.0, 1.0, 1.0]), np.array([1.0, 0.0, 1.0]))
    assert c is not None and c.within is None and c.icc is None
    # a task's mean then carries its whole variance: s² of the 0/1 task means
    assert c.between == pytest.approx(np.var([1, 0, 1], ddof=1))


def test_variance_components_match_statsmodels_mixed_model_reml() -> None:
    """On balanced data the ANOVA estimates are REML's (when positive): statsmodels' MixedLM
    with a random intercept per task gives the same ω² (cov_re) and σ² (scale)."""
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(4)
    tasks, k = 40, 4
    effect = rng.normal(0, 1.0, tasks)
    x = effect[:, None] + rng.normal(0, 0.7, (tasks, k))
    task = np.repeat(np.arange(tasks), k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("x ~ 1", {"x": x.ravel(), "task": task}, groups="task").fit(reml=True)
    n = np.full(tasks, float(k))
    c = components_from_sums(n, x.sum(axis=1), (x * x).sum(axis=1))
    assert c is not None
    assert c.between == pytest.approx(float(fit.cov_re.iloc[0, 0]), rel=1e-4)
    assert c.within == pytest.approx(float(fit.scale), rel=1e-4)


def test_cluster_wilson_interval_by_hand() -> None:
    n, y = per_task(TRIALS)
    p = y.sum() / n.sum()
    v = 5 / 4 * float(np.sum((y - p * n) ** 2)) / n.sum() ** 2
    n_eff = p * (1 - p) / v
    z = stats.t.ppf(0.975, 4)
    centre = (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff**2)) / (1 + z * z / n_eff)
    assert cluster_wilson_interval(n, y) == pytest.approx((centre - half, centre + half))
    # all resolved: the design effect is unmeasurable; as many observations as tasks
    low, high = cluster_wilson_interval(np.array([3.0, 3.0]), np.array([3.0, 3.0])) or (0, 0)
    assert high == 1.0 and low == pytest.approx(2 / (2 + stats.t.ppf(0.975, 1) ** 2))
    assert cluster_wilson_interval(np.array([3.0]), np.array([2.0])) is None


TASKS, K, RATE, REPS = 60, 3, 0.7, 2000


def beta_binomial_cells(icc: float, seed: int) -> tuple[Floats, Floats]:
    """REPS cells of TASKS tasks × K trials whose tasks' true rates are Beta with mean RATE and
    intra-task correlation `icc` (a + b = 1/icc − 1); per-task counts (reps × tasks)."""
    rng = np.random.default_rng(seed)
    if icc == 0:
        p = np.full((REPS, TASKS), RATE)
    else:
        s = 1 / icc - 1
        p = rng.beta(RATE * s, (1 - RATE) * s, size=(REPS, TASKS))
    return np.full((REPS, TASKS), float(K)), rng.binomial(K, p).astype(np.float64)


@pytest.mark.parametrize("icc", [0.0, 0.45, 0.9])
def test_headline_interval_covers_the_true_rate(icc: float) -> None:
    n, y = beta_binomial_cells(icc, seed=int(icc * 100) + 1)
    covered = naive = 0
    for row_n, row_y in zip(n, y, strict=True):
        low, high = cluster_wilson_interval(row_n, row_y) or (2.0, -1.0)
        covered += low <= RATE <= high
        w = wilson_interval(int(row_y.sum()), int(row_n.sum()))
        assert w is not None
        naive += w[0] <= RATE <= w[1]
    assert 0.93 <= covered / REPS <= 0.97, covered / REPS
    if icc == 0.45:
        # why the headline changed: pooling N × k trials as independent under-covers (the
        # design effect 1 + 2 × 0.45 = 1.9 makes it ~1.4× too narrow)
        assert naive / REPS < 0.90, naive / REPS


@pytest.mark.parametrize("icc", [0.0, 0.45, 0.9])
def test_icc_estimate_recovers_the_true_icc(icc: float) -> None:
    n, y = beta_binomial_cells(icc, seed=7)
    estimates = []
    for row_n, row_y in zip(n, y, strict=True):
        c = binary_components(row_n, row_y)
        assert c is not None and c.icc is not None
        estimates.append(c.icc)
    # the floor at ω² = 0 biases the mean up a little at ICC 0
    assert float(np.mean(estimates)) == pytest.approx(icc, abs=0.04)
