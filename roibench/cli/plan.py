"""`roibench plan PILOT_JOURNAL --detect D`: the cheapest (tasks, trials per task) design whose
paired comparisons detect a difference D at 80% power and α = 0.05, from a pilot run's
variance components, cost per trial and throughput."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from roibench.core.errors import InputError

if TYPE_CHECKING:
    from roibench.results.cells import CellTrials, JournalCells
    from roibench.results.power import Metric, PairTarget, PlanResult, PlanTarget


def _dataset_tasks(journal: JournalCells) -> int | None:
    """Tasks in the smallest dataset of the suite the pilot ran, planned again from the suite
    text its RunSpec recorded (today's task files: a plan is for the next run); None when the
    suite cannot be planned again."""
    from roibench.config.suite import parse_suite
    from roibench.run.runner import plan_suite

    suite = journal.spec.suite
    try:
        plan = plan_suite(parse_suite(suite.text, Path(suite.file)))
    except (InputError, ValueError, OSError):
        return None
    sizes = [len(c.dataset.tasks) for c in plan.cells if c.label in journal.cells]
    return min(sizes) if sizes else None


def _cpo(cell: CellTrials) -> float | None:
    resolved = float(cell.resolved.sum())
    return float(cell.spend.sum()) / resolved if resolved and cell.priced else None


def targets_of(
    journal: JournalCells, metric: Metric, detect: float
) -> tuple[list[PairTarget], list[PlanTarget]]:
    """Each pair of pilot cells on common tasks (a one-cell pilot: the cell against a like
    cell with uncorrelated task effects) with the absolute difference to detect."""
    import numpy as np

    from roibench.results.paired import components_of, trial_variable
    from roibench.results.power import Metric, PairedComponents, PairTarget, PlanTarget

    cells = list(journal.cells.values())
    found: list[tuple[str, str, PairedComponents, float]] = []

    def delta_for(*group: CellTrials) -> float | None:
        if metric is Metric.SUCCESS_RATE:
            return detect
        cpos = [_cpo(c) for c in group]
        if any(c is None for c in cpos):
            return None
        return detect * float(np.mean([c for c in cpos if c is not None]))

    if len(cells) == 1:
        cell = cells[0]
        everything = np.arange(len(cell.task_ids), dtype=np.float64)
        values = trial_variable(cell, metric, everything)
        comp = None if values is None else cell.components(values)
        delta = delta_for(cell)
        if comp is not None and delta:
            inv_k = float(np.mean(1 / cell.per_task(np.ones(cell.trials))))
            within = comp.within or 0.0
            pc = PairedComponents(comp.tasks, 2 * comp.between, within, within, inv_k, inv_k)
            found.append((cell.label, "(a like cell)", pc, delta))
    for a, b in itertools.combinations(cells, 2):
        common = sorted(set(a.task_ids) & set(b.task_ids))
        comp = components_of(a, b, common, metric)
        delta = delta_for(a, b)
        if comp is not None and delta:
            found.append((a.label, b.label, comp, delta))
    if not found:
        raise InputError(
            f"the pilot has no cell (pair) with a defined {metric.value} on two or more tasks",
            file=journal.path,
        )
    pairs = [PairTarget(c, d) for _, _, c, d in found]
    shown = [
        PlanTarget(a=a, b=b, between=c.between, within_a=c.within_a, within_b=c.within_b, delta=d)
        for a, b, c, d in found
    ]
    return pairs, shown


def make_plan(
    pilot: Path,
    detect: float,
    metric: Metric,
    max_spend: float | None,
    tasks: int | None,
) -> PlanResult:
    """The plan for a pilot journal."""
    from roibench.results.cells import load_journal_cells
    from roibench.results.power import plan_design
    from roibench.run.plan import read_run_spec

    journal = load_journal_cells(pilot, read_run_spec(pilot))
    if not journal.cells:
        raise InputError("the pilot journal has no trials", file=pilot)
    pairs, shown = targets_of(journal, metric, detect)
    cells = list(journal.cells.values())
    arms = max(2, len(cells))
    pilot_tasks = max(len(c.task_ids) for c in cells)
    in_dataset = None if tasks is not None else _dataset_tasks(journal)
    available = tasks or in_dataset or pilot_tasks
    priced = all(c.priced for c in cells)
    per_trial = sum(float(c.spend.sum()) / c.trials for c in cells) if priced else None
    if per_trial is not None and len(cells) == 1:
        per_trial *= 2  # the cell and the one it will be compared with
    wall = journal.wall_s
    throughput = sum(c.trials for c in cells) / wall if wall else None
    result = plan_design(
        pairs, metric=metric, detect=detect, cells=arms, pilot_tasks=pilot_tasks,
        pilot_k=max(c.trials_per_task for c in cells), tasks_available=available,
        cost_per_task_trial=per_trial, throughput=throughput, max_spend=max_spend,
    )  # fmt: skip
    notes = list(result.notes)
    if tasks is None and in_dataset is None:
        notes.append(f"suite not found: assuming the pilot's {pilot_tasks} tasks are all there are")
    if len(cells) == 1:
        notes.append(
            "one-cell pilot: the other arm is assumed like it, with uncorrelated task effects "
            "(pairs usually correlate, so this errs large)"
        )
    return result.model_copy(update={"targets": tuple(shown), "notes": tuple(notes)})


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _amount(metric: Metric, value: float | None) -> str:
    from roibench.results.power import Metric

    if value is None:
        return "—"
    if metric is Metric.SUCCESS_RATE:
        return f"{value * 100:.1f} points"
    return f"{value:.1%} of the cost per outcome"


def render(result: PlanResult) -> str:
    """The plan as text."""
    from roibench.results.power import ALPHA, POWER

    m = result.metric
    lines = [
        f"Plan: detect {_amount(m, result.detect)} in {m.value} at {POWER:.0%} power, "
        f"α = {ALPHA} (paired, two-sided), across {result.pairs} pair(s) of cells; "
        f"a run has {result.cells} cells.",
        f"pilot: {result.pilot_tasks} tasks × {result.pilot_trials_per_task} trials; its own "
        f"minimum detectable difference: {_amount(m, result.pilot_mdd)}. Variances planned at "
        f"their upper 80% confidence limit (× {result.inflation:.2f}).",
        f"tasks available: {result.tasks_available}",
    ]
    c = result.chosen
    if c is not None:
        spend = "unknown (unpriced)" if c.spend_usd is None else f"${c.spend_usd:,.2f}"
        lines.append(
            f"cheapest design: {c.tasks} tasks × {c.trials_per_task} trials per task "
            f"({c.trials:,} trials), expected spend {spend}, wall time ≈ {_duration(c.wall_s)} "
            f"at the pilot's throughput; detects {_amount(m, c.mdd)}."
        )
        lines.append(f"  roibench run SUITE --limit {c.tasks} --trials {c.trials_per_task}")
    if result.candidates:
        lines.append("designs (smallest N per k):")
        lines.append("    k   tasks   trials        spend      wall")
        for d in result.candidates[:10]:
            spend = "—" if d.spend_usd is None else f"${d.spend_usd:,.2f}"
            lines.append(
                f"  {d.trials_per_task:>3} {d.tasks:>7} {d.trials:>8,} {spend:>12} "
                f"{_duration(d.wall_s):>9}"
            )
    b = result.best_within_budget
    if b is not None:
        lines.append(
            f"best within the budget: {b.tasks} tasks × {b.trials_per_task} trials detects "
            f"{_amount(m, b.mdd)}"
        )
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def plan(
    pilot: Annotated[Path, typer.Argument(help="Journal of a pilot run.")],
    detect: Annotated[
        float,
        typer.Option(
            min=0.0001,
            help="Difference to detect: a rate difference for success_rate (0.05 = 5 points), "
            "a share of the pilot's cost per outcome for cost_per_outcome_usd.",
        ),
    ],
    metric: Annotated[str, typer.Option(help="success_rate or cost_per_outcome_usd.")] = (
        "success_rate"
    ),
    max_spend: Annotated[
        float | None, typer.Option(min=0, help="USD: reject designs expected to cost more.")
    ] = None,
    tasks: Annotated[
        int | None, typer.Option(min=2, help="Tasks available (default: the suite's dataset).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Size the next run from a pilot: tasks, trials per task, spend and wall time."""
    from rich.console import Console
    from rich.markup import escape

    from roibench.results.power import Metric

    err = Console(stderr=True)
    try:
        try:
            chosen_metric = Metric(metric)
        except ValueError:
            raise InputError(
                f"unknown metric {metric!r} (success_rate or cost_per_outcome_usd)",
                field="--metric",
            ) from None
        result = make_plan(pilot, detect, chosen_metric, max_spend, tasks)
    except InputError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        typer.echo(render(result), nl=False)


def register(app: typer.Typer) -> None:
    """Add `plan` to the CLI."""
    app.command(name="plan")(plan)
