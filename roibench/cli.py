"""The `roibench` command line. Heavy imports (mlflow, pandas, langgraph) happen inside the
commands that need them, so `roibench --help` is instant."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from roibench.errors import InputError

if TYPE_CHECKING:
    from roibench.summary import CellSummary

app = typer.Typer(
    name="roibench",
    help="Measure what AI agents are worth: reliability, cost per outcome and ROI, in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def _fail_input(exc: InputError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _money(value: Decimal | None, digits: int = 4) -> str:
    return "—" if value is None else f"${value:.{digits}f}"


def _ratio(value: Decimal | float | None) -> str:
    return "—" if value is None else f"{float(value):.2f}"


def results_table(summaries: dict[str, CellSummary], trials: int) -> Table:
    """The end-of-run table: one row per cell."""
    table = Table(title="Results per cell", header_style="bold")
    table.add_column("cell")
    table.add_column("success (95% CI)", justify="right")
    table.add_column(f"pass^{trials}", justify="right")
    table.add_column("esc / fail / harm", justify="right")
    table.add_column("spend", justify="right")
    table.add_column("cost / outcome", justify="right")
    table.add_column("ROI token", justify="right")
    table.add_column("ROI outcome", justify="right")
    for label, s in summaries.items():
        e = s.economics
        ci = e.success_rate_ci
        ci_text = f" ({ci[0]:.0%}–{ci[1]:.0%})" if ci else ""
        c = e.counts
        total = c.total or 1
        table.add_row(
            label,
            f"{e.success_rate:.0%}{ci_text}",
            _ratio(e.pass_hat.get(trials)),
            f"{c.escalated / total:.0%} / {c.failed / total:.0%} / {c.harmful / total:.0%}",
            _money(e.spend_usd) if e.priced else "[bold red]UNPRICED[/]",
            _money(e.cost_per_outcome_usd) if e.priced else "[bold red]UNPRICED[/]",
            _ratio(e.roi_token_pricing),
            _ratio(e.roi_outcome_pricing),
        )
    return table


@app.command()
def run(
    suite: Annotated[Path, typer.Argument(help="Suite file (TOML).")],
    trials: Annotated[int | None, typer.Option(min=1, help="Trials per task (k).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N tasks.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Trials in flight.")] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the suite's seed.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for journals.")] = Path("roibench-runs"),
    mlflow_log: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="Log to MLflow.")] = True,
) -> None:
    """Run a suite: every workflow x agent x model, on every task, k times."""
    from roibench.journal import Journal
    from roibench.runner import Runner, plan_suite
    from roibench.suite import load_suite
    from roibench.summary import summarize_cell

    try:
        loaded = load_suite(suite)
        plan = plan_suite(loaded, trials=trials, limit=limit, concurrency=concurrency, seed=seed)
    except InputError as exc:
        _fail_input(exc)
        return
    cfg = loaded.config
    for cell in plan.cells:
        if cell.price is None:
            err.print(
                f"[bold yellow]warning:[/] model [bold]{cell.model.name}[/] has no price card: its "
                "cells are UNPRICED (cost metrics absent, not zero). Add a [models.price] table "
                "with input_per_mtok / output_per_mtok to the suite.",
                highlight=False,
            )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_name = f"{cfg.name}-{stamp}"
    journal_path = out / cfg.name / stamp / "journal.jsonl"
    journal = Journal(
        journal_path,
        header={"suite": cfg.name, "suite_file": str(loaded.path), "seed": plan.seed,
                "trials": plan.trials, "started_at": stamp},
    )
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    spend = Decimal(0)
    unpriced = 0
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("spend ${task.fields[spend]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        bar = progress.add_task(cfg.name, total=plan.total_trials, spend="0.0000")

        def on_trial(record: object) -> None:
            nonlocal spend, unpriced
            cost = getattr(record, "cost_usd", None)
            if cost is None:
                unpriced += 1
            else:
                spend += cost
            progress.update(bar, advance=1, spend=f"{spend:.4f}")

        result = asyncio.run(Runner(plan, journal=journal, progress=on_trial).run())
    journal.close()
    summaries = {
        cell.label: summarize_cell(
            cell.label,
            result.trials[cell.label],
            cell.workflow.value_model,
            cfg.outcome_pricing,
            write_tools=cell.workflow.write_tools,
            seed=plan.seed,
        )
        for cell in plan.cells
    }
    console.print(results_table(summaries, plan.trials))
    if plan.simulated:
        console.print("[dim]Results from the built-in simulator (tagged roibench.simulated=true).[/]")
    console.print(f"journal: {journal_path}")
    if mlflow_log:
        from roibench.mlflow_sink import log_suite_run

        run_id = log_suite_run(plan, result.trials, summaries, journal_path, run_name, experiment)
        import mlflow

        console.print(f"MLflow: run {run_id} in experiment '{experiment or cfg.name}' at {mlflow.get_tracking_uri()}")


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8787,
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    dataset: Annotated[list[Path] | None, typer.Option(help="Extra task files to recognise.")] = None,
) -> None:
    """Run the simulator as an OpenAI-compatible server for any client."""
    from roibench.plugins import BUILTIN_WORKFLOWS, resolve_workflow
    from roibench.sim.server import SimServer
    from roibench.tasks import load_dataset

    tasks = []
    try:
        for name in BUILTIN_WORKFLOWS:
            wf = resolve_workflow(name, [Path.cwd()])
            if wf.dataset is not None:
                tasks.extend(load_dataset(Path(wf.dataset)).tasks)
        for path in dataset or []:
            tasks.extend(load_dataset(path).tasks)
    except InputError as exc:
        _fail_input(exc)
    server = SimServer(tasks, host=host, port=port)

    async def serve() -> None:
        await server.start()
        console.print(f"roibench simulator on {server.base_url} — models: sim/frontier, "
                      f"sim/balanced, sim/budget; {len(server.player)} tasks known. Ctrl-C stops.")
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


@app.command()
def providers() -> None:
    """List provider presets and whether each API key is set (keys are never printed)."""
    from roibench.providers import PRESETS

    table = Table(title="Provider presets", header_style="bold")
    for col in ("name", "base URL", "key variable", "key", "usage dialect", "quirks"):
        table.add_column(col)
    for p in PRESETS.values():
        quirks = []
        if p.echo_reasoning:
            quirks.append("echo reasoning_content")
        if p.think_in_content:
            quirks.append("<think> in content")
        if p.reasoning_field and p.reasoning_field != "reasoning_content":
            quirks.append(f"reasoning field '{p.reasoning_field}'")
        if "required" not in p.tool_choice_values:
            quirks.append("tool_choice " + "/".join(p.tool_choice_values))
        if p.max_tokens_param != "max_tokens":
            quirks.append(p.max_tokens_param)
        table.add_row(p.name, p.base_url or "(in-process)", p.api_key_env or "—", p.key_status(),
                      p.usage_dialect, ", ".join(quirks))
    console.print(table)


from roibench.commands import register_all  # noqa: E402  (after the built-in commands)

register_all(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except InputError as exc:  # raised outside a command's own handling
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
