"""Paired comparisons: Holm against statsmodels, the sign-flip p-value and the paired
bootstrap by direct recomputation, and by simulation — coverage of the paired interval at a
known intra-task correlation, uniform p-values under a true null, Holm's family-wise error."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from roibench.results.paired import flipped_sums, holm, paired_figures, permutation_p
from roibench.results.tasksums import EconParams, TaskMatrix, column_names

Floats = npt.NDArray[np.float64]
PARAMS = EconParams(
    human=10.0, escalation=10.0, rework=0.0, price=1.0, base_fee=0.0,
    scheme="per_resolution", bill_escalations=False, refund_harmful=True,
)  # fmt: skip


def matrix(n: Floats, resolved: Floats, spend: Floats | None = None, k: int = 3) -> TaskMatrix:
    """A TaskMatrix of per-task counts (other outcomes 0), with pass^k columns."""
    names = column_names([k])
    cols = dict.fromkeys(names, np.zeros_like(n))
    cols["n"], cols["resolved"] = n, resolved
    cols["failed"] = n - resolved
    cols["spend"] = np.zeros_like(n) if spend is None else spend
    cols[f"q{k}"] = np.array(
        [math.comb(int(c), k) / math.comb(int(m), k) for m, c in zip(n, resolved, strict=True)]
    )
    cols[f"has{k}"] = (n >= k).astype(np.float64)
    ids = tuple(f"t{i:03d}" for i in range(n.size))
    return TaskMatrix(ids, np.column_stack([cols[c] for c in names]), names, True)


def test_holm_matches_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    ps = [0.01, 0.04, 0.03, 0.2, 0.005]
    expected = [float(x) for x in multipletests(ps, method="holm")[1]]  # type: ignore[union-attr]
    assert holm(ps) == pytest.approx(expected)
    assert holm([0.02, None, 0.03]) == pytest.approx([0.04, None, 0.04])


def test_sign_flip_p_value_enumerated_by_hand() -> None:
    # 4 tasks, k = 2; per-task success of A and B
    n = np.full(4, 2.0)
    ya, yb = np.array([0.0, 1.0, 1.0, 0.0]), np.array([2.0, 2.0, 1.0, 1.0])
    figs, flips, exact = paired_figures(
        matrix(n, ya, k=2), matrix(n, yb, k=2), PARAMS, PARAMS, ["success_rate"],
        seed=0, resamples=200, permutations=9999,
    )  # fmt: skip
    assert exact and flips == 16
    d = (yb - ya) / 2  # per-task differences of rates: 1, 0.5, 0, 0.5 -> Δ = 0.5
    observed = d.mean()
    null = [np.mean(np.array(s) * d) for s in itertools.product([-1, 1], repeat=4)]
    p = sum(abs(x) >= abs(observed) - 1e-12 for x in null) / 16
    fig = figs["success_rate"]
    assert fig.delta == pytest.approx(0.5) and fig.p_value == pytest.approx(p)
    # only all-plus and all-minus reach |Δ| = 0.5, each with the d = 0 task either way
    assert p == pytest.approx(4 / 16)


def test_paired_bootstrap_matches_a_direct_resampling() -> None:
    """The paired interval resamples tasks once for both cells (the same rows of
    default_rng(seed).integers) and takes Hesterberg's expanded percentiles of Δ."""
    rng = np.random.default_rng(5)
    tasks = 12
    n = np.full(tasks, 3.0)
    ya, yb = rng.binomial(3, 0.5, tasks).astype(float), rng.binomial(3, 0.7, tasks).astype(float)
    figs, _, _ = paired_figures(
        matrix(n, ya), matrix(n, yb), PARAMS, PARAMS, ["success_rate"], seed=9, resamples=400
    )
    draws = np.random.default_rng(9).integers(0, tasks, size=(400, tasks))
    deltas = sorted(yb[row].sum() / n[row].sum() - ya[row].sum() / n[row].sum() for row in draws)
    tail = stats.norm.cdf(-math.sqrt(tasks / (tasks - 1)) * stats.t.ppf(0.975, tasks - 1))
    fig = figs["success_rate"]
    assert (fig.ci_low, fig.ci_high) == pytest.approx(
        (deltas[math.floor(tail * 399)], deltas[math.ceil((1 - tail) * 399)])
    )


def test_random_sign_flips_are_seeded_and_counted_with_the_observed() -> None:
    half = np.random.default_rng(0).normal(size=(30, 2))
    sums, exact = flipped_sums(half, 2500, seed=3)  # three blocks
    rng = np.random.default_rng([3, 0x5167])
    signs = np.vstack([rng.integers(0, 2, size=(r, 30), dtype=np.int8) for r in (1024, 1024, 452)])
    assert not exact and sums == pytest.approx((signs * 2.0 - 1.0) @ half)
    assert permutation_p(1.0, np.array([0.5, -2.0, 1.0, 0.1]), exact=False) == pytest.approx(3 / 5)


TASKS, K, RATE, REPS = 60, 3, 0.7, 2000


def task_rates(icc: float, rng: np.random.Generator, reps: int = REPS) -> Floats:
    """reps × TASKS true task rates: Beta with mean RATE and intra-task correlation icc."""
    if icc == 0:
        return np.full((reps, TASKS), RATE)
    s = 1 / icc - 1
    return rng.beta(RATE * s, (1 - RATE) * s, size=(reps, TASKS))


@pytest.mark.parametrize("icc", [0.0, 0.45, 0.9])
def test_paired_interval_covers_the_true_difference(icc: float) -> None:
    """B succeeds on each task at 0.8 × A's rate: true Δ = −0.2 × RATE."""
    rng = np.random.default_rng(int(icc * 100) + 11)
    p = task_rates(icc, rng)
    ya, yb = rng.binomial(K, p).astype(float), rng.binomial(K, 0.8 * p).astype(float)
    n = np.full(TASKS, float(K))
    truth = -0.2 * RATE
    covered = 0
    for row_a, row_b in zip(ya, yb, strict=True):
        fig = paired_figures(
            matrix(n, row_a), matrix(n, row_b), PARAMS, PARAMS, ["success_rate"],
            seed=1, permutations=1,
        )[0]["success_rate"]  # fmt: skip
        assert fig.ci_low is not None and fig.ci_high is not None
        covered += fig.ci_low <= truth <= fig.ci_high
    assert 0.93 <= covered / REPS <= 0.97, covered / REPS


def null_pair(rng: np.random.Generator) -> tuple[TaskMatrix, TaskMatrix]:
    """Two cells with no difference: the same task rates (ICC 0.45) and the same lognormal
    spend per trial around a task's own level."""
    p = task_rates(0.45, rng, reps=1)[0]
    level = rng.normal(-4, 0.5, TASKS)
    n = np.full(TASKS, float(K))

    def cell() -> TaskMatrix:
        spend = np.exp(level[:, None] + rng.normal(0, 0.3, (TASKS, K))).sum(axis=1)
        return matrix(n, rng.binomial(K, p).astype(float), spend)

    return cell(), cell()


def test_permutation_p_values_are_uniform_under_the_null() -> None:
    rng = np.random.default_rng(21)
    spend_p, success_p = [], []
    for _ in range(REPS):
        a, b = null_pair(rng)
        figs = paired_figures(
            a, b, PARAMS, PARAMS, ["cost_per_task_usd", "success_rate"],
            seed=2, resamples=20, permutations=999,
        )[0]  # fmt: skip
        spend_p.append(figs["cost_per_task_usd"].p_value)
        success_p.append(figs["success_rate"].p_value)
    # spend is continuous: the p-value is uniform (up to its 1/1000 grid)
    assert stats.kstest(spend_p, "uniform").pvalue > 0.01
    # the success rate is discrete (multiples of 1/180): its p-values are uniform or
    # conservative, never anti-conservative
    for alpha in (0.01, 0.05, 0.10):
        assert np.mean(np.array(success_p) <= alpha) <= alpha + 2 * math.sqrt(alpha / REPS)


def test_holm_keeps_the_family_wise_error_at_five_percent() -> None:
    """Four cells with no real difference, all six pairs compared at once (REPS = 2000)."""
    rng = np.random.default_rng(33)
    n = np.full(TASKS, float(K))
    raw_errors = holm_errors = 0
    for _ in range(REPS):
        p = task_rates(0.45, rng, reps=1)[0]
        cells = [matrix(n, rng.binomial(K, p).astype(float)) for _ in range(4)]
        ps = [
            paired_figures(
                cells[i], cells[j], PARAMS, PARAMS, ["success_rate"], seed=4, resamples=20,
                permutations=499,
            )[0]["success_rate"].p_value
            for i, j in itertools.combinations(range(4), 2)
        ]  # fmt: skip
        raw_errors += min(p for p in ps if p is not None) <= 0.05
        holm_errors += min(p for p in holm(ps) if p is not None) <= 0.05
    assert holm_errors / REPS <= 0.05, holm_errors / REPS
    assert raw_errors / REPS > 0.10  # uncorrected, six looks find "something" far too often
