"""`roibench run --workflow/--agent/--model/--task/--tier`: run part of a suite — some of its
cells, some tasks — without editing the suite file. The journal header records the filter,
so `log`, `reprice`, `show` and `--resume` rebuild the same part."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from roibench.core.errors import InputError

if TYPE_CHECKING:  # types only: the orchestrator imports this before the runner's stack
    from roibench.run.runner import Cell, RunPlan


class PlanFilter(BaseModel):
    """Which cells and tasks of a suite to run. Empty = all. Tasks take shell-style
    patterns (`refunds-easy-*`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workflows: tuple[str, ...] = Field(default=(), description="Workflow names.")
    agents: tuple[str, ...] = Field(default=(), description="Agent names.")
    models: tuple[str, ...] = Field(default=(), description="Model labels of the suite.")
    tasks: tuple[str, ...] = Field(default=(), description="Task ids or patterns.")
    tiers: tuple[str, ...] = Field(default=(), description="Tiers.")

    @property
    def any(self) -> bool:
        """Whether anything is filtered."""
        return bool(self.workflows or self.agents or self.models or self.tasks or self.tiers)

    def header(self) -> dict[str, Any]:
        """For the journal header."""
        return self.model_dump(mode="json")


def _check_names(asked: tuple[str, ...], known: list[str], option: str) -> None:
    unknown = [a for a in asked if a not in known]
    if unknown:
        raise InputError(
            f"{', '.join(map(repr, unknown))}: not in the suite (it has {', '.join(known)})",
            field=option,
        )


def _task_matches(flt: PlanFilter, task_id: str, tier: str) -> bool:
    if flt.tiers and tier not in flt.tiers:
        return False
    return not flt.tasks or any(fnmatch.fnmatchcase(task_id, p) for p in flt.tasks)


def _restrict(cell: Cell, flt: PlanFilter) -> Cell | None:
    """The cell with only the matching tasks of its dataset (its `limit` applies after), or
    None when none match."""
    if not (flt.tasks or flt.tiers):
        return cell
    tasks = tuple(t for t in cell.dataset.tasks if _task_matches(flt, t.id, t.tier))
    if not tasks:
        return None
    cell.dataset = cell.dataset.model_copy(update={"tasks": tasks})
    return cell


def filter_plan(plan: RunPlan, flt: PlanFilter) -> RunPlan:
    """The plan with only the cells and tasks `flt` selects (the plan is changed in place and
    returned); InputError naming the option when a name is unknown or nothing is left."""
    if not flt.any:
        return plan
    cells = plan.cells
    _check_names(flt.workflows, sorted({c.workflow.name for c in cells}), "--workflow")
    _check_names(flt.agents, sorted({c.agent.name for c in cells}), "--agent")
    _check_names(flt.models, sorted({c.model.name for c in cells}), "--model")
    tiers = sorted({t.tier for c in cells for t in c.dataset.tasks})
    _check_names(flt.tiers, tiers, "--tier")
    kept: list[Cell] = []
    for cell in cells:
        if flt.workflows and cell.workflow.name not in flt.workflows:
            continue
        if flt.agents and cell.agent.name not in flt.agents:
            continue
        if flt.models and cell.model.name not in flt.models:
            continue
        restricted = _restrict(cell, flt)
        if restricted is not None:
            kept.append(restricted)
    if not kept:
        asked = ", ".join(
            f"{name} {' '.join(values)}"
            for name, values in (("--task", flt.tasks), ("--tier", flt.tiers))
            if values
        )
        raise InputError(
            f"no task of the selected cells matches {asked or 'the filters'}", field="--task"
        )
    plan.cells = kept
    return plan


def filter_from_header(header: dict[str, Any]) -> PlanFilter | None:
    """The filter a journal header recorded (None: the whole suite ran)."""
    raw = header.get("filters")
    return None if raw is None else PlanFilter.model_validate(raw)
