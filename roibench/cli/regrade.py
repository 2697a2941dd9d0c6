"""`roibench regrade JOURNAL|RUN_ID [--workflow REF] [--value-model FILE]`: grade a finished
run again — its recorded tool calls replayed into fresh environments of the current (or a
named) workflow, under the current (or a given) value model — with no model calls; the new
outcomes and economics printed, written to a new journal, and logged as a new MLflow run
tagged `roibench.regraded_from`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from roibench.core.outcomes import Outcome
    from roibench.run.regrade import RegradeResult

MAX_LISTED = 200
"""Changed tasks listed in the terminal (every one is in the MLflow artifact)."""


def _outcome(o: Outcome) -> str:
    from roibench.cli.tables import usd

    loss = f" {usd(o.loss_usd)}" if o.loss_usd else ""
    return f"{o.status.value}{loss}"


def print_differences(console: Console, result: RegradeResult) -> None:
    """Per task: the trials whose outcome changed, before -> after."""
    from rich.markup import escape

    from roibench.cli.tables import Grid, print_grid

    if not result.changes:
        console.print(f"No outcome changed: all {result.trials} trials graded as before.")
        return
    by_task: dict[tuple[str, str], list[str]] = {}
    tiers: dict[tuple[str, str], str] = {}
    for c in result.changes:
        key = (c.cell, c.task_id)
        tiers[key] = c.tier
        by_task.setdefault(key, []).append(f"#{c.trial} {_outcome(c.before)} → {_outcome(c.after)}")
    grid = Grid(
        title=f"Outcomes changed: {len(result.changes)} of {result.trials} trials",
        headers=["cell", "task", "tier", "trials changed (before → after)"],
        align=["left", "left", "left", "left"],
    )
    for (cell, task), changes in list(by_task.items())[:MAX_LISTED]:
        grid.add(
            escape(cell), escape(task), escape(tiers[(cell, task)]), escape("; ".join(changes))
        )
    print_grid(console, grid)
    if len(by_task) > MAX_LISTED:
        console.print(f"… and {len(by_task) - MAX_LISTED} more tasks (see the journal).")


def print_economics(console: Console, result: RegradeResult) -> None:
    """Per cell: the figures the regrade can move, before -> after."""
    from rich.markup import escape

    from roibench.cli.tables import Grid, multiple, pct, per_task, print_grid, signed_usd, usd

    grid = Grid(
        title="Economics before → after",
        headers=[
            "cell", "success", "harm", "loss", "net / task (token)", "ROI token",
            "net / task (outcome)", "ROI outcome",
        ],
        align=["left"] + ["right"] * 7,
    )  # fmt: skip
    for old_label, before in result.original.items():
        label = result.labels.get(old_label, old_label)
        after = result.regraded[label]
        b, a = before.economics, after.economics
        n = b.counts.total or 1

        def pair(x: str, y: str) -> str:
            return x if x == y else f"{x} → {y}"

        grid.add(
            escape(label),
            pair(pct(b.success_rate), pct(a.success_rate)),
            pair(pct(b.counts.harmful / n), pct(a.counts.harmful / n)),
            pair(usd(b.loss_usd), usd(a.loss_usd)),
            pair(
                signed_usd(per_task(b.net_savings_token_usd, b.counts.total)),
                signed_usd(per_task(a.net_savings_token_usd, a.counts.total)),
            ),
            pair(multiple(b.roi_token_pricing), multiple(a.roi_token_pricing)),
            pair(
                signed_usd(per_task(b.net_savings_outcome_usd, b.counts.total)),
                signed_usd(per_task(a.net_savings_outcome_usd, a.counts.total)),
            ),
            pair(multiple(b.roi_outcome_pricing), multiple(a.roi_outcome_pricing)),
        )
    print_grid(console, grid)


def regrade(
    ref: Annotated[
        str, typer.Argument(help="journal.jsonl of a finished run, a suite run id, or 'latest'.")
    ],
    workflow: Annotated[
        str | None,
        typer.Option(help="Grade with this workflow (name, module:attr or file.py:attr)."),
    ] = None,
    value_model: Annotated[
        Path | None, typer.Option(help="TOML/JSON value model(s) to grade the economics under.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the new journal.")] = Path("roibench-runs"),
    mlflow_log: Annotated[
        bool, typer.Option("--mlflow/--no-mlflow", help="Log as a new MLflow run.")
    ] = True,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name.")] = None,
) -> None:
    """Grade a finished run again from its journal, without calling any model."""
    from rich.markup import escape

    from roibench.cli.tables import make_console
    from roibench.core.errors import InputError
    from roibench.run.regrade import log_regrade, regrade_journal
    from roibench.sinks.mlflow.lookup import resolve_journal

    console, err = make_console(), make_console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="roibench-regrade-") as tmp:
        try:
            journal, run_id = resolve_journal(ref, Path(tmp))
            result = regrade_journal(
                journal, out, workflow=workflow, value_model=value_model, from_run=run_id
            )
        except InputError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    under = result.record.workflow or "the run's own workflows"
    vm = result.record.value_model_file or "their own value models"
    console.print(
        f"Regraded {result.trials} trials of {escape(result.record.original_run_name)} under "
        f"{escape(under)} and {escape(vm)}; no model was called.",
        highlight=False,
    )
    if result.not_regraded:
        console.print(
            f"{result.not_regraded} trial(s) ended in an infrastructure error and keep it "
            "(nothing to grade)."
        )
    if result.diverged:
        err.print(
            f"[bold yellow]warning:[/] {len(result.diverged)} trial(s) replayed differently "
            "from the record (the agent would have seen other tool results), e.g. "
            + "; ".join(f"{c} {t} #{k}: {w}" for c, t, k, w in result.diverged[:3]),
            highlight=False,
        )
    print_differences(console, result)
    print_economics(console, result)
    console.print(f"journal: {result.journal}", highlight=False)
    if mlflow_log:
        logged = log_regrade(result, experiment)
        if logged.run_id is None:
            err.print(
                f"[bold yellow]MLflow not logged:[/] {escape(logged.error or '')}. The regraded "
                f"journal is safe; log it later with: roibench log {result.journal}",
                highlight=False,
            )
        else:
            console.print(
                f"MLflow: run {logged.run_id} (roibench.regraded_from={logged.origin})",
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    """Add `regrade` to the CLI."""
    app.command(name="regrade")(regrade)
