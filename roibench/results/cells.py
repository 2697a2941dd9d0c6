"""A journal's cells as per-trial arrays — what paired comparisons and sample-size planning
resample — with the value model, outcome pricing and seed the journal recorded, and each
cell's comparability fingerprint.

Read from the journal alone (never today's suite or code): task ids and outcomes from the
trials, prices as the calls recorded them, economics and digests from its RunSpec.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from roibench.core.outcomes import OutcomeStatus
from roibench.journal.spec import CellSpec, RunSpec
from roibench.journal.store import iter_trials
from roibench.results.cluster import VarianceComponents, components_from_sums
from roibench.results.tally import USER_SIM_ROLE
from roibench.results.tasksums import EconParams, TaskMatrix, column_names

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]


class Fingerprint(BaseModel):
    """What must agree for two cells' per-task differences to mean anything: the same tasks,
    graded by the same grader under the same policy, from the same dataset. Digests the
    journal does not record (a workflow defined outside a file has no code digest) are None:
    not compared, and said so."""

    model_config = ConfigDict(frozen=True)

    workflow: str = Field(description="Workflow name: the grader and policy until digests are.")
    tasks: int = Field(description="Distinct task ids with a trial.")
    task_ids_sha256: str = Field(description="sha256 of the sorted task ids, one per line.")
    dataset_sha256: str | None = None
    grader_sha256: str | None = None
    policy_sha256: str | None = None

    def differences(self, other: Fingerprint) -> list[str]:
        """Human-readable fields that differ (digests known on both sides only)."""
        out: list[str] = []
        if self.workflow != other.workflow:
            out.append(f"workflow {self.workflow!r} vs {other.workflow!r}")
        if self.task_ids_sha256 != other.task_ids_sha256:
            out.append(f"task ids differ ({self.tasks} vs {other.tasks} tasks)")
        for name in ("dataset_sha256", "grader_sha256", "policy_sha256"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None and mine != theirs:
                out.append(f"{name.removesuffix('_sha256')} digest {mine[:12]} vs {theirs[:12]}")
        return out

    def unrecorded(self) -> list[str]:
        """Digests this journal does not record (so they could not be checked)."""
        names = ("dataset_sha256", "grader_sha256", "policy_sha256")
        return [n.removesuffix("_sha256") for n in names if getattr(self, n) is None]


def comparability_fingerprint(
    cell: CellSpec | None, workflow: str, task_ids: Iterable[str]
) -> Fingerprint:
    """The fingerprint of one cell of a journal: its workflow and the task ids its trials ran,
    and the digests its RunSpec records — the dataset file, the policy, and the workflow's
    code (which is its grader). The one place that decides what must match."""
    ids = sorted(set(task_ids))
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    wf = cell.workflow if cell is not None else None
    return Fingerprint(
        workflow=workflow,
        tasks=len(ids),
        task_ids_sha256=digest,
        dataset_sha256=wf.dataset_sha256 if wf is not None else None,
        grader_sha256=wf.code_sha256 if wf is not None else None,
        policy_sha256=wf.policy_sha256 if wf is not None else None,
    )


@dataclass
class _Builder:
    workflow: str
    write_tools: frozenset[str]
    task: list[str] = field(default_factory=list)
    status: list[OutcomeStatus] = field(default_factory=list)
    spend: list[float] = field(default_factory=list)
    unpriced: int = 0
    loss: list[float] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class CellTrials:
    """One cell's trials as arrays (one entry per trial), tasks indexed in id order."""

    journal: Path
    label: str
    workflow: str
    task_ids: tuple[str, ...]
    task: IntArray
    """Index into task_ids of each trial."""
    resolved: FloatArray
    escalated: FloatArray
    failed: FloatArray
    harmful: FloatArray
    error: FloatArray
    spend: FloatArray
    """The agent's spend per trial (user simulator apart; 0 for an unpriced call)."""
    priced: bool
    loss: FloatArray
    actions: FloatArray
    start: FloatArray
    """UTC start of each trial (epoch seconds)."""
    end: FloatArray
    params: EconParams | None
    """The recorded value model and outcome pricing; None when the RunSpec lacks the cell."""
    fingerprint: Fingerprint

    @property
    def trials(self) -> int:
        """Trials of the cell."""
        return int(self.task.size)

    @property
    def trials_per_task(self) -> int:
        """k: the most trials any task has."""
        import numpy as np

        return int(np.bincount(self.task).max()) if self.trials else 0

    def per_task(self, values: FloatArray) -> FloatArray:
        """Per-task sums of a per-trial array."""
        import numpy as np

        sums = np.bincount(self.task, weights=values, minlength=len(self.task_ids))
        return sums.astype(np.float64)

    def matrix(self, levels: Iterable[int]) -> TaskMatrix:
        """The cell's TaskMatrix (per-task totals, pass^j for each level)."""
        import math

        import numpy as np

        levels = list(levels)
        n = self.per_task(np.ones(self.trials))
        res = self.per_task(self.resolved)
        cols = [n, res] + [
            self.per_task(a)
            for a in (self.escalated, self.failed, self.harmful, self.error, self.spend,
                      self.loss, self.actions)
        ]  # fmt: skip
        for j in levels:
            q = [
                math.comb(int(c), j) / math.comb(int(m), j) if m >= j else 0.0
                for m, c in zip(n, res, strict=True)
            ]
            cols += [np.array(q), (n >= j).astype(np.float64)]
        return TaskMatrix(self.task_ids, np.column_stack(cols), column_names(levels), self.priced)

    def components(self, values: FloatArray) -> VarianceComponents | None:
        """Variance components of a per-trial quantity over the cell's tasks."""
        import numpy as np

        ones = np.ones_like(values)
        return components_from_sums(
            self.per_task(ones), self.per_task(values), self.per_task(values * values)
        )

    @property
    def throughput(self) -> float | None:
        """Trials per second of wall time (first start to last end); None if unmeasurable."""
        if not self.trials:
            return None
        wall = float(self.end.max() - self.start.min())
        return self.trials / wall if wall > 0 else None


@dataclass(frozen=True)
class JournalCells:
    """Every cell of one journal."""

    path: Path
    spec: RunSpec
    cells: dict[str, CellTrials]
    """By label, in the order the journal first shows them."""
    seed: int
    """The bootstrap seed the run recorded."""

    @property
    def wall_s(self) -> float | None:
        """The run's wall time over all cells (first trial start to last end)."""
        starts = [float(c.start.min()) for c in self.cells.values() if c.trials]
        ends = [float(c.end.max()) for c in self.cells.values() if c.trials]
        return max(ends) - min(starts) if starts else None


def load_journal_cells(path: Path, spec: RunSpec) -> JournalCells:
    """Read a journal's trials once into per-cell arrays; `spec` is the journal's RunSpec (as
    `run.plan.read_run_spec` reads it, older schemas upgraded): the value model, write tools,
    outcome pricing, seed and digests come from it."""
    import numpy as np

    recorded = {c.label: c for c in spec.cells}
    builders: dict[str, _Builder] = {}
    for t in iter_trials(path):
        b = builders.get(t.cell)
        if b is None:
            entry = recorded.get(t.cell)
            tools = entry.workflow.write_tools if entry is not None else ()
            b = builders[t.cell] = _Builder(t.workflow, frozenset(tools))
        b.task.append(t.task_id)
        b.status.append(t.outcome.status)
        costs = [c.cost_usd for c in t.calls if c.role != USER_SIM_ROLE]
        b.unpriced += any(c is None for c in costs)
        b.spend.append(float(sum(c for c in costs if c is not None)))
        b.loss.append(float(t.outcome.loss_usd))
        b.actions.append(t.tool_calls_by_name(b.write_tools) if b.write_tools else 0)
        start = t.started_at.timestamp()
        b.start.append(start)
        b.end.append(start + t.duration_s)
    cells: dict[str, CellTrials] = {}
    order = [label for label in recorded if label in builders]  # the suite's cell order
    order += [label for label in builders if label not in order]
    for label in order:
        b = builders[label]
        ids = tuple(sorted(set(b.task)))
        where = {task_id: i for i, task_id in enumerate(ids)}
        status = np.array([s.value for s in b.status])

        def flag(s: OutcomeStatus, status: Any = status) -> FloatArray:
            return (status == s.value).astype(np.float64)

        cells[label] = CellTrials(
            journal=path,
            label=label,
            workflow=b.workflow,
            task_ids=ids,
            task=np.array([where[x] for x in b.task], dtype=np.int64),
            resolved=flag(OutcomeStatus.RESOLVED),
            escalated=flag(OutcomeStatus.ESCALATED),
            failed=flag(OutcomeStatus.FAILED),
            harmful=flag(OutcomeStatus.HARMFUL),
            error=flag(OutcomeStatus.ERROR),
            spend=np.array(b.spend),
            priced=b.unpriced == 0,
            loss=np.array(b.loss),
            actions=np.array(b.actions, dtype=np.float64),
            start=np.array(b.start),
            end=np.array(b.end),
            params=EconParams.of(recorded[label].workflow.value_model, spec.outcome_pricing)
            if label in recorded
            else None,
            fingerprint=comparability_fingerprint(recorded.get(label), b.workflow, ids),
        )
    return JournalCells(path, spec, cells, spec.seed)
