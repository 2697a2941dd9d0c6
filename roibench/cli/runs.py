"""`roibench runs`: the suite runs in the tracking store, newest first — when, which suite,
how many cells, simulated or real, and whether a run is a regrade or a re-pricing of
another."""

from __future__ import annotations

from typing import Annotated

import typer


def runs(
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Experiment name (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N runs.")] = 20,
) -> None:
    """List roibench suite runs in the tracking store ($MLFLOW_TRACKING_URI), newest first."""
    from mlflow.tracking import MlflowClient
    from rich.markup import escape

    from roibench.cli.tables import Grid, make_console, print_grid
    from roibench.core.errors import InputError
    from roibench.sinks.mlflow.lookup import require_tracking_store, suite_runs

    console, err = make_console(), make_console(stderr=True)
    try:
        uri = require_tracking_store()
        found = suite_runs(MlflowClient(), experiment)
    except InputError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    if not found:
        err.print(f"[bold yellow]no roibench runs in {escape(uri)}[/]", highlight=False)
        raise typer.Exit(1)
    grid = Grid(
        title=f"{min(limit, len(found))} of {len(found)} roibench run(s) in {escape(uri)}",
        headers=[
            "started (UTC)", "run", "suite", "cells", "k", "models", "kind", "took", "run id",
        ],
        align=["left", "left", "left", "right", "right", "left", "left", "right", "left"],
    )  # fmt: skip
    for info in found[:limit]:
        took = "—"
        if info.ended is not None:
            seconds = (info.ended - info.started).total_seconds()
            took = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
        kind = info.kind.value
        if info.origin:
            kind += f" of {info.origin}"
        if info.status != "FINISHED":
            kind += f" ({info.status.lower()})"
        grid.add(
            f"{info.started:%Y-%m-%d %H:%M:%S}", escape(info.name), escape(info.suite),
            str(info.cells), escape(info.trials), "simulated" if info.simulated else "real",
            escape(kind), took, info.run_id,
        )  # fmt: skip
    print_grid(console, grid)


def register(app: typer.Typer) -> None:
    """Add `runs` to the CLI."""
    app.command(name="runs")(runs)
