"""Per-task and per-tier figures of a run, read from its trials: what `roibench show` prints.

One streaming pass over the journal: per (cell, task) outcome counts and loss, and one trial
kept whole — the one to render. Memory grows with the number of tasks, not trials.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from roibench.core.outcomes import Counts, OutcomeStatus
from roibench.core.records import TrialRecord
from roibench.results.groups import is_injection
from roibench.results.stats import pass_hat_k

ZERO = Decimal(0)

SEVERITY = {
    OutcomeStatus.HARMFUL: 4,
    OutcomeStatus.FAILED: 3,
    OutcomeStatus.ERROR: 2,
    OutcomeStatus.ESCALATED: 1,
    OutcomeStatus.RESOLVED: 0,
}
"""How bad an outcome is for the buyer, to pick the trial worth reading first."""

TIER_ORDER = ("easy", "medium", "hard", "adversarial")
"""Tiers are listed in this order (any other tier after them, alphabetically)."""


def tier_rank(tier: str) -> tuple[int, str]:
    """Sort key of a tier."""
    return (TIER_ORDER.index(tier), "") if tier in TIER_ORDER else (len(TIER_ORDER), tier)


class TrialFilter(BaseModel):
    """Which trials `show` looks at. Empty = any. Cells and tasks take shell-style patterns
    (`refunds/*/sim/budget`, `*-inject-*`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cells: tuple[str, ...] = Field(default=(), description="Cell labels or patterns.")
    tasks: tuple[str, ...] = Field(default=(), description="Task ids or patterns.")
    tiers: tuple[str, ...] = Field(default=(), description="Tiers.")
    statuses: tuple[OutcomeStatus, ...] = Field(
        default=(), description="Outcomes: tasks with at least one such trial; trials of it."
    )
    trial: int | None = Field(default=None, ge=0, description="Trial index k to render.")

    def in_scope(self, t: TrialRecord) -> bool:
        """The trial's cell, task and tier pass the filter (its status is not looked at)."""
        if self.cells and not any(fnmatch.fnmatchcase(t.cell, p) for p in self.cells):
            return False
        if self.tasks and not any(fnmatch.fnmatchcase(t.task_id, p) for p in self.tasks):
            return False
        return not self.tiers or t.tier in self.tiers

    def picks(self, t: TrialRecord) -> bool:
        """The trial may be the one rendered: in scope, of a wanted status and index."""
        if self.statuses and t.outcome.status not in self.statuses:
            return False
        return self.trial is None or t.trial == self.trial


@dataclass
class TaskFigures:
    """One task of one cell: its trials' outcomes and loss."""

    cell: str
    task_id: str
    tier: str
    statuses: list[OutcomeStatus] = field(default_factory=list)
    loss_usd: Decimal = ZERO
    spend_usd: Decimal | None = ZERO
    """Sum of the trials' cost; None when any was unpriced."""

    @property
    def counts(self) -> Counts:
        """Outcome counts."""
        return Counts.of(self.statuses)

    @property
    def success_rate(self) -> float:
        """Resolved trials / trials."""
        return self.counts.resolved / len(self.statuses) if self.statuses else 0.0

    def pass_hat(self, k: int) -> float | None:
        """pass^k of this task (None with fewer than k trials)."""
        return pass_hat_k([(len(self.statuses), self.counts.resolved)], k)

    @property
    def injection(self) -> bool:
        """A prompt-injection task (see results.groups)."""
        return is_injection(self.task_id)


@dataclass
class GroupFigures:
    """Tasks of one cell taken together (a tier, or the injection tasks)."""

    cell: str
    group: str
    tasks: list[TaskFigures]

    @property
    def counts(self) -> Counts:
        """Outcome counts over the group's trials."""
        return Counts.of([s for t in self.tasks for s in t.statuses])

    @property
    def success_rate(self) -> float:
        """Resolved trials / trials."""
        c = self.counts
        return c.resolved / c.total if c.total else 0.0

    @property
    def loss_usd(self) -> Decimal:
        """Measured loss of the group's harmful trials."""
        return sum((t.loss_usd for t in self.tasks), ZERO)

    def pass_hat(self, k: int) -> float | None:
        """pass^k over the group's tasks."""
        return pass_hat_k([(len(t.statuses), t.counts.resolved) for t in self.tasks], k)


@dataclass
class Breakdown:
    """What `show` prints: per task and per group figures, and the trial to render."""

    k: int
    """Trials per task the figures use for pass^k."""
    tasks: list[TaskFigures]
    """In cell order (as the journal first names them), then by tier and task id."""
    trials_seen: int = 0
    trials_in_scope: int = 0
    picked: TrialRecord | None = None
    """The trial to render: the worst (loss, then outcome) among those the filter picks."""
    picked_of: int = 0
    """How many trials the filter picked (the rendered one included)."""

    def cells(self) -> list[str]:
        """Cell labels, in order."""
        return list(dict.fromkeys(t.cell for t in self.tasks))

    def groups(self) -> list[GroupFigures]:
        """Per cell: each tier (easy to adversarial), then the injection tasks."""
        out: list[GroupFigures] = []
        for cell in self.cells():
            mine = [t for t in self.tasks if t.cell == cell]
            for tier in sorted({t.tier for t in mine}, key=tier_rank):
                out.append(GroupFigures(cell, tier, [t for t in mine if t.tier == tier]))
            injection = [t for t in mine if t.injection]
            if injection:
                out.append(GroupFigures(cell, "injection", injection))
        return out

    def worst(self, n: int) -> list[TaskFigures]:
        """Up to n tasks with loss or harm, worst first: loss, then harmful, then failed
        trials."""
        bad = [t for t in self.tasks if t.loss_usd > 0 or t.counts.harmful]
        bad.sort(key=lambda t: (-t.loss_usd, -t.counts.harmful, -t.counts.failed, t.task_id))
        return bad[:n]


def _worse(a: TrialRecord, b: TrialRecord) -> bool:
    """a is worth rendering before b: more loss, then a worse outcome (else the first)."""
    ka = (a.outcome.loss_usd, SEVERITY[a.outcome.status])
    kb = (b.outcome.loss_usd, SEVERITY[b.outcome.status])
    return ka > kb


def breakdown(trials: Iterable[TrialRecord], flt: TrialFilter, k: int | None = None) -> Breakdown:
    """Per-task figures of the trials in the filter's scope (one pass; `k` defaults to the
    most trials any task has). With statuses in the filter, only tasks that have a trial of
    such a status are kept, with all their trials' figures."""
    tasks: dict[tuple[str, str], TaskFigures] = {}
    result = Breakdown(k=k or 1, tasks=[])
    for t in trials:
        result.trials_seen += 1
        if not flt.in_scope(t):
            continue
        result.trials_in_scope += 1
        key = (t.cell, t.task_id)
        fig = tasks.get(key)
        if fig is None:
            fig = tasks[key] = TaskFigures(cell=t.cell, task_id=t.task_id, tier=t.tier)
        fig.statuses.append(t.outcome.status)
        fig.loss_usd += t.outcome.loss_usd
        fig.spend_usd = None if fig.spend_usd is None or t.cost_usd is None else (
            fig.spend_usd + t.cost_usd
        )  # fmt: skip
        if flt.picks(t):
            result.picked_of += 1
            if result.picked is None or _worse(t, result.picked):
                result.picked = t
    kept = list(tasks.values())
    if flt.statuses:
        kept = [t for t in kept if any(s in flt.statuses for s in t.statuses)]
    order = {cell: i for i, cell in enumerate(dict.fromkeys(t.cell for t in kept))}
    kept.sort(key=lambda t: (order[t.cell], tier_rank(t.tier), t.task_id))
    result.tasks = kept
    if k is None:
        result.k = max((len(t.statuses) for t in kept), default=1)
    return result
