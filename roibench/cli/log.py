"""`roibench log JOURNAL`: log a finished (or interrupted) run to MLflow from its journal —
for runs whose tracking server was unreachable, or to log to another server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the command."""
    app.command(name="log")(log_journal)


def log_journal(
    journal: Annotated[Path, typer.Argument(help="journal.jsonl of a run.")],
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name.")] = None,
    trace_sample: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Fraction of trials traced (default: all, up to 2,000)."),
    ] = None,
    trace: Annotated[bool, typer.Option("--trace/--no-trace", help="Trace trials.")] = True,
) -> None:
    """Log a run's journal to MLflow (MLFLOW_TRACKING_URI), as `roibench run` would have."""
    from rich.console import Console

    from roibench.core.errors import InputError
    from roibench.run.orchestrator import log_journal as log_from_journal
    from roibench.run.regrade import regrade_log_tags

    err = Console(stderr=True)
    try:
        # a regraded journal's run is tagged with the run it regrades
        extra = regrade_log_tags(journal, experiment)
        _spec, trials, logged = log_from_journal(
            journal, experiment, trace_sample=0.0 if not trace else trace_sample,
            extra_tags=extra,
        )  # fmt: skip
    except InputError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if logged.error is not None:
        err.print(f"[bold red]MLflow not logged:[/] {logged.error}", highlight=False)
        raise typer.Exit(1)
    Console().print(f"logged {trials} trials as run {logged.run_id} at {logged.tracking_uri}")
