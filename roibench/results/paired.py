"""Paired comparisons of two cells run on the same tasks.

For each figure (success, pass^k, spend per trial, cost per outcome, both ROIs, harm $ per
trial, escalation), Δ = figure(B) − figure(A) on the tasks both cells ran (A is the
baseline), with

- a task-bootstrap interval: one seeded resample of tasks applied to both cells at once, each
  task with all its trials in both (the pairing is what removes the tasks' own difficulty
  from the comparison); expanded percentile, as for a cell's own intervals;
- a sign-flip permutation p-value: under "no difference" A's and B's trials of a task are
  exchangeable, so swapping them task by task (random flips, or all 2^N when that is fewer)
  gives the null distribution of Δ; two-sided;
- Holm's step-down adjustment when several pairs are compared at once (per figure);
- the minimum detectable difference of the design that was run, from the measured
  components (`power`), for the success rate and the cost per outcome.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from roibench.core.errors import InputError
from roibench.results.cells import CellTrials, Fingerprint
from roibench.results.power import PairedComponents, mdd
from roibench.results.stats import (
    RESAMPLES,
    expanded_tail,
    one_blas_thread,
    percentile_interval,
    resample_weights,
    resampled_sums,
)
from roibench.results.tasksums import (
    COST_FIGURES,
    EconParams,
    Figure,
    TaskMatrix,
    evaluate,
    pass_name,
    sums_view,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

PERMUTATIONS = 9999
"""Random sign flips per p-value (all 2^N when that is fewer): p ≥ 1/10,000."""

PASS_K = "pass_hat_k"
"""pass^k at the common k, in the comparison's figures."""

PAIRED_FIGURES: tuple[str, ...] = (
    Figure.SUCCESS_RATE,
    PASS_K,
    Figure.COST_PER_TASK,
    Figure.COST_PER_OUTCOME,
    Figure.ROI_TOKEN,
    Figure.ROI_OUTCOME,
    Figure.HARM_PER_TRIAL,
    Figure.ESCALATION_RATE,
)
"""The figures a paired comparison reports, in order."""

MDD_FIGURES = (Figure.SUCCESS_RATE, Figure.COST_PER_OUTCOME)
"""Figures with a components-based minimum detectable difference."""


class NotComparable(InputError):
    """Two cells whose per-task differences would not mean anything (without --force)."""


class PairedFigure(BaseModel):
    """One figure of a paired comparison. None = undefined (e.g. unpriced, no resolution)."""

    model_config = ConfigDict(frozen=True)

    metric: str
    a: float | None = Field(description="The baseline cell's figure on the common tasks.")
    b: float | None
    delta: float | None = Field(description="b − a.")
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = Field(default=None, description="Sign-flip permutation, two-sided.")
    p_holm: float | None = Field(default=None, description="Holm-adjusted across the pairs.")
    mdd: float | None = Field(
        default=None, description="Minimum detectable |Δ| at 80% power, α = 0.05."
    )


class PairedComparison(BaseModel):
    """Cell B against baseline cell A on their common tasks."""

    model_config = ConfigDict(frozen=True)

    a: str = Field(description="Baseline cell label.")
    b: str
    a_journal: str
    b_journal: str
    tasks: int = Field(description="Common tasks compared.")
    trials_a: int
    trials_b: int
    k: int = Field(description="pass^k level: the smaller of the two cells' k.")
    seed: int
    resamples: int
    permutations: int = Field(description="Sign flips drawn (2^N when enumerated).")
    exact: bool = Field(description="Every sign flip enumerated.")
    forced: bool = Field(default=False, description="Paired despite differences (--force).")
    differences: tuple[str, ...] = Field(
        default=(), description="What differed between the cells (only with --force)."
    )
    unchecked: tuple[str, ...] = Field(
        default=(), description="Digests the journals do not record, so not checked."
    )
    fingerprint_a: Fingerprint
    fingerprint_b: Fingerprint
    figures: tuple[PairedFigure, ...]

    @property
    def name(self) -> str:
        """'B vs A'."""
        return f"{self.b} vs {self.a}"

    def figure(self, metric: str) -> PairedFigure | None:
        """The figure named `metric`, if reported."""
        return next((f for f in self.figures if f.metric == metric), None)


def _per_task(cell: CellTrials, values: FloatArray, positions: FloatArray) -> FloatArray:
    """(n, Σx, Σx²) per common task (rows in `positions` order of the cell's task ids)."""
    import numpy as np

    ones = np.ones_like(values)
    rows = [cell.per_task(v)[positions.astype(np.int64)] for v in (ones, values, values * values)]
    return np.column_stack(rows)


def trial_variable(cell: CellTrials, metric: str, positions: FloatArray) -> FloatArray | None:
    """The per-trial quantity whose mean's variance is the figure's: the resolved flag for the
    success rate; for the cost per outcome R = Σspend / Σresolved, its linearisation
    (spend − R · resolved) / p̄ (p̄ the success rate): Var(R̂) ≈ Var of its mean."""
    import numpy as np

    if metric == Figure.SUCCESS_RATE:
        return cell.resolved
    if metric == Figure.COST_PER_OUTCOME:
        if not cell.priced:
            return None
        keep = np.isin(cell.task, positions.astype(np.int64))
        resolved = float(cell.resolved[keep].sum())
        if resolved == 0:
            return None
        ratio = float(cell.spend[keep].sum()) / resolved
        rate = resolved / int(keep.sum())
        return (cell.spend - ratio * cell.resolved) / rate
    return None


def components_of(
    a: CellTrials, b: CellTrials, common: Sequence[str], metric: str
) -> PairedComponents | None:
    """The paired components of `metric` on the common tasks; None when undefined or fewer
    than two tasks. Within-task σ² is the ANOVA mean square within; ω_d² = s_d² − σ_A²·mean(1/n_A)
    − σ_B²·mean(1/n_B), floored at 0, where s_d² is the variance of the per-task differences
    of means. A cell with one trial per task has no σ²: its variance then all counts as ω_d²."""
    import numpy as np

    if len(common) < 2:
        return None
    where_a = {t: i for i, t in enumerate(a.task_ids)}
    where_b = {t: i for i, t in enumerate(b.task_ids)}
    pos_a = np.array([where_a[t] for t in common], dtype=np.float64)
    pos_b = np.array([where_b[t] for t in common], dtype=np.float64)
    va, vb = trial_variable(a, metric, pos_a), trial_variable(b, metric, pos_b)
    if va is None or vb is None:
        return None
    sa, sb = _per_task(a, va, pos_a), _per_task(b, vb, pos_b)

    def within(s: FloatArray) -> float:
        df = float(s[:, 0].sum()) - len(common)
        if df <= 0:
            return 0.0
        return float(np.sum(np.maximum(s[:, 2] - s[:, 1] ** 2 / s[:, 0], 0.0))) / df

    wa, wb = within(sa), within(sb)
    d = sa[:, 1] / sa[:, 0] - sb[:, 1] / sb[:, 0]
    inv_a, inv_b = float(np.mean(1 / sa[:, 0])), float(np.mean(1 / sb[:, 0]))
    between = max(0.0, float(np.var(d, ddof=1)) - wa * inv_a - wb * inv_b)
    return PairedComponents(len(common), between, wa, wb, inv_a, inv_b)


FLIP_BLOCK = 1024
"""Sign flips drawn and multiplied per block: memory stays at a block × N, whatever N."""


def flipped_sums(half: FloatArray, permutations: int, seed: int) -> tuple[FloatArray, bool]:
    """Σᵢ sᵢ · halfᵢ for each sign-flip vector s (one row per flip): all 2^N vectors when
    2^N ≤ permutations + 1 (exact), else `permutations` seeded random ones drawn in blocks of
    FLIP_BLOCK rows (a stream apart from the bootstrap's). Also whether enumerated."""
    import numpy as np

    tasks = half.shape[0]
    if tasks <= 20 and 2**tasks <= permutations + 1:
        codes = np.arange(2**tasks, dtype=np.int64)[:, None] >> np.arange(tasks)
        with one_blas_thread():
            return ((codes & 1) * 2.0 - 1.0) @ half, True
    rng = np.random.default_rng([seed, 0x5167])
    out = np.empty((permutations, half.shape[1]))
    with one_blas_thread():
        for r0 in range(0, permutations, FLIP_BLOCK):
            rows = min(FLIP_BLOCK, permutations - r0)
            signs = rng.integers(0, 2, size=(rows, tasks), dtype=np.int8) * 2.0 - 1.0
            out[r0 : r0 + rows] = signs @ half
    return out, False


def permutation_p(observed: float, null: FloatArray, exact: bool) -> float | None:
    """Two-sided p: the share of sign flips with |Δ*| ≥ |Δ| — (1 + count) / (1 + flips) for
    random flips (the observed assignment counts once), count / 2^N when enumerated (it is
    among them). Flips where Δ* is undefined are left out; None if most are."""
    import numpy as np

    null = null[np.isfinite(null)]
    if null.size == 0:
        return None
    tol = 1e-9 * max(1.0, abs(observed))  # equal up to float noise counts as "as extreme"
    extreme = int(np.count_nonzero(np.abs(null) >= abs(observed) - tol))
    if exact:
        return extreme / null.size
    return (1 + extreme) / (1 + null.size)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None): the i-th smallest of m times
    (m − i), running maximum, capped at 1. Controls the family-wise error at any level."""
    known = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(known)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(known):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def _figure_name(metric: str, k: int) -> str:
    return pass_name(k) if metric == PASS_K else metric


def paired_figures(
    xa: TaskMatrix,
    xb: TaskMatrix,
    pa: EconParams,
    pb: EconParams,
    figures: Sequence[str],
    *,
    seed: int,
    resamples: int = RESAMPLES,
    permutations: int = PERMUTATIONS,
    level: float = 0.95,
) -> tuple[dict[str, PairedFigure], int, bool]:
    """Δ, interval and p-value of each figure for two matrices over the same tasks in the same
    order (pass^k as `pass_hat_<k>`). Also the flips used and whether enumerated."""
    import numpy as np

    if xa.task_ids != xb.task_ids or xa.names != xb.names:
        raise ValueError("paired matrices must cover the same tasks and columns")
    tasks = len(xa.task_ids)
    tail = expanded_tail(tasks, level)
    weights = resample_weights(tasks, resamples, seed)
    both = resampled_sums(weights, np.hstack([xa.columns, xb.columns]))
    m = len(xa.names)
    boot_a, boot_b = sums_view(both[:, :m], xa.names), sums_view(both[:, m:], xb.names)
    half = (xa.columns - xb.columns) / 2
    centre = (xa.columns.sum(axis=0) + xb.columns.sum(axis=0)) / 2
    flipped, exact = flipped_sums(half, permutations, seed)
    perm_a = sums_view(centre + flipped, xa.names)
    perm_b = sums_view(centre - flipped, xb.names)
    tot_a, tot_b = (
        sums_view(xa.columns.sum(axis=0), xa.names),
        sums_view(xb.columns.sum(axis=0), xb.names),
    )
    out: dict[str, PairedFigure] = {}
    for name in figures:
        if name in COST_FIGURES and not (xa.priced and xb.priced):
            out[name] = PairedFigure(metric=name, a=None, b=None, delta=None)
            continue
        a, b = float(evaluate(name, tot_a, pa)), float(evaluate(name, tot_b, pb))
        fa, fb = math.isfinite(a), math.isfinite(b)
        delta = b - a if fa and fb else None
        ci = p = None
        if delta is not None and tail is not None:
            ci = percentile_interval(
                evaluate(name, boot_b, pb) - evaluate(name, boot_a, pa), tail, resamples
            )
            null = evaluate(name, perm_b, pb) - evaluate(name, perm_a, pa)
            if np.count_nonzero(np.isfinite(null)) >= null.size / 2:
                p = permutation_p(delta, null, exact)
        out[name] = PairedFigure(
            metric=name,
            a=a if fa else None,
            b=b if fb else None,
            delta=delta,
            ci_low=None if ci is None else ci[0],
            ci_high=None if ci is None else ci[1],
            p_value=p,
        )
    return out, int(flipped.shape[0]), exact


def compare_cells(
    a: CellTrials,
    b: CellTrials,
    *,
    seed: int,
    resamples: int = RESAMPLES,
    permutations: int = PERMUTATIONS,
    force: bool = False,
) -> PairedComparison:
    """Compare cell B against baseline A on their common tasks. Raises NotComparable when the
    fingerprints differ (tasks, workflow, recorded digests), unless `force` — which the
    result then records with what differed."""
    differences = a.fingerprint.differences(b.fingerprint)
    if differences and not force:
        raise NotComparable(
            f"cells {a.label!r} and {b.label!r} are not comparable: "
            + "; ".join(differences)
            + " (--force pairs them on their common tasks and records it)"
        )
    common = sorted(set(a.task_ids) & set(b.task_ids))
    if len(common) < 2:
        raise NotComparable(
            f"cells {a.label!r} and {b.label!r} share {len(common)} task(s); a paired "
            "comparison needs at least two"
        )
    if a.params is None or b.params is None:
        raise InputError(
            "a journal header lacks the economics (value model, outcome pricing) a "
            "comparison needs",
            file=a.journal if a.params is None else b.journal,
            line=1,
        )
    k = max(1, min(a.trials_per_task, b.trials_per_task))
    xa, xb = a.matrix([k]).rows(common), b.matrix([k]).rows(common)
    names = [_figure_name(f, k) for f in PAIRED_FIGURES]
    found, flips, exact = paired_figures(
        xa, xb, a.params, b.params, names, seed=seed, resamples=resamples,
        permutations=permutations,
    )  # fmt: skip
    figures = []
    for metric in PAIRED_FIGURES:
        fig = found[_figure_name(metric, k)]
        update: dict[str, object] = {"metric": metric}
        if metric in MDD_FIGURES:
            comp = components_of(a, b, common, metric)
            if comp is not None:
                update["mdd"] = mdd(comp.var_of_difference(), comp.tasks)
        figures.append(fig.model_copy(update=update))
    return PairedComparison(
        a=a.label,
        b=b.label,
        a_journal=str(a.journal),
        b_journal=str(b.journal),
        tasks=len(common),
        trials_a=int(xa.columns[:, 0].sum()),
        trials_b=int(xb.columns[:, 0].sum()),
        k=k,
        seed=seed,
        resamples=resamples,
        permutations=flips,
        exact=exact,
        forced=bool(differences) and force,
        differences=tuple(differences) if force else (),
        unchecked=tuple(sorted(set(a.fingerprint.unrecorded()) | set(b.fingerprint.unrecorded()))),
        fingerprint_a=a.fingerprint,
        fingerprint_b=b.fingerprint,
        figures=tuple(figures),
    )


def adjust_holm(comparisons: Sequence[PairedComparison]) -> list[PairedComparison]:
    """The comparisons with p_holm filled in: per figure, across the pairs."""
    if not comparisons:
        return []
    adjusted: list[dict[str, float | None]] = [{} for _ in comparisons]
    for metric in PAIRED_FIGURES:
        ps = [(c.figure(metric) or PairedFigure(metric=metric, a=None, b=None, delta=None))
              .p_value for c in comparisons]  # fmt: skip
        for i, p in enumerate(holm(ps)):
            adjusted[i][metric] = p
    return [
        c.model_copy(
            update={
                "figures": tuple(
                    f.model_copy(update={"p_holm": adjusted[i][f.metric]}) for f in c.figures
                )
            }
        )
        for i, c in enumerate(comparisons)
    ]
