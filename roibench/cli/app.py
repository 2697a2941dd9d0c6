"""The `roibench` command line. Heavy imports (mlflow, pandas, langgraph) happen inside the
commands that need them, so `roibench --help` is instant."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roibench.core.errors import InputError

if TYPE_CHECKING:
    from roibench.core.records import TrialRecord
    from roibench.results.summary import CellSummary

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
    # escaped: messages hold brackets ("pip install 'roibench[ray]'") that are not markup
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
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
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only N tasks, every tier in proportion.")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Trials in flight.")] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the suite's seed.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for journals.")] = Path("roibench-runs"),
    mlflow_log: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="Log to MLflow.")] = True,
    resume: Annotated[
        Path | None,
        typer.Option(help="Journal of an interrupted run: skip its finished trials, append."),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(help="Response cache file (sqlite); a re-run makes no model calls."),
    ] = None,
    max_spend: Annotated[
        float | None,
        typer.Option(min=0, help="USD cap: no trial starts that could cross it."),
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(help="Simulator faults for every sim model, e.g. '429=0.1,500=0.05'."),
    ] = None,
    preflight: Annotated[
        bool, typer.Option("--preflight/--no-preflight", help="Check endpoints and keys first.")
    ] = True,
    trace_sample: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="Fraction of trials traced in MLflow (default: all, up to 2,000 per run).",
        ),
    ] = None,
    trace: Annotated[
        bool, typer.Option("--trace/--no-trace", help="One MLflow trace per trial.")
    ] = True,
    executor: Annotated[
        str, typer.Option(help="Where trials run: 'local' (asyncio) or 'ray' (roibench[ray]).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to join ('auto' = the local `ray start`); default: new."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Ray worker actors (default: the cluster's CPUs).")
    ] = None,
) -> None:
    """Run a suite: every workflow x agent x model, on every task, k times."""
    from roibench.config.suite import load_suite
    from roibench.core.faults import FaultSpec
    from roibench.journal.store import Journal, JournalScan, iter_trials, read_header
    from roibench.pricing.cards import unpriced_hint
    from roibench.results.summary import journal_economics
    from roibench.run.runner import Runner, RunOptions, plan_suite
    from roibench.run.session import (
        Overrides,
        fresh_spend,
        log_to_mlflow,
        new_tallies,
        plan_from_journal,
        summarize,
        tally_journal,
    )
    from roibench.run.session import preflight as check_endpoints

    overrides = Overrides(trials=trials, limit=limit, concurrency=concurrency, seed=seed)
    previous: JournalScan | None = None
    try:
        from roibench.run.executors import EXECUTORS, require_ray

        if executor not in EXECUTORS:
            raise InputError(f"unknown executor {executor!r} (local or ray)", field="--executor")
        if executor == "ray":
            require_ray()
        elif address is not None or workers is not None:
            raise InputError("--address and --workers need --executor ray", field="--executor")
        fault_spec = FaultSpec.parse(faults) if faults else None
        if resume is not None:
            plan = plan_from_journal(read_header(resume), resume)
            loaded = plan.suite
            current = load_suite(suite)
            if current.text != loaded.text:
                raise InputError(
                    f"the suite changed since {resume} was written; resume needs the same suite",
                    file=suite,
                )
        else:
            loaded = load_suite(suite)
            plan = plan_suite(
                loaded, trials=trials, limit=limit, concurrency=concurrency, seed=seed
            )
        cap = None if max_spend is None else Decimal(str(max_spend))
        if cap is not None:
            unpriced_models = sorted({c.model.name for c in plan.cells if c.price is None})
            if unpriced_models:
                raise InputError(
                    f"--max-spend needs every model priced; unpriced: {', '.join(unpriced_models)}"
                )
        if preflight:
            problems = check_endpoints(plan)
            if problems:
                raise InputError("; ".join(p.message for p in problems), file=suite)
        # a cell's figures are running tallies: the run never holds its trials in memory
        tallies = new_tallies(plan)
        if resume is not None:
            tallies, previous = tally_journal(plan, resume)
    except (InputError, ValueError) as exc:
        _fail_input(exc if isinstance(exc, InputError) else InputError(str(exc), field="--faults"))
        return
    cfg = loaded.config
    warned: set[str] = set()
    for cell in plan.cells:
        if cell.price is None and cell.model.name not in warned:
            warned.add(cell.model.name)
            hint = unpriced_hint(cell.model.name, cell.model.model_id, cell.model.provider)
            err.print(f"[bold yellow]warning:[/] {hint}", highlight=False)
    if previous is not None and resume is not None:
        journal_path = resume
        run_name = str(previous.header.get("run_name") or f"{cfg.name}-resumed")
        journal = Journal(journal_path)
        done, lost = previous.done, previous.lost_calls
        err.print(f"resuming {journal_path}: {len(done)} trials done, {len(lost)} lost in flight")
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        base, n = stamp, 1
        while (out / cfg.name / stamp).exists():  # two runs started in the same second
            n += 1
            stamp = f"{base}-{n}"
        run_name = f"{cfg.name}-{stamp}"
        journal_path = out / cfg.name / stamp / "journal.jsonl"
        journal = Journal(
            journal_path,
            header={
                "suite": cfg.name,
                "suite_file": str(loaded.path.resolve()),
                "suite_text": loaded.text,
                "overrides": overrides.as_dict(),
                "seed": plan.seed,
                "trials": plan.trials,
                "started_at": stamp,
                "run_name": run_name,
                "economics": journal_economics(plan),
            },
        )
        done, lost = set(), {}
    from roibench.model.cache import ResponseCache

    response_cache = ResponseCache(cache) if cache is not None else None
    options = RunOptions(
        cache=response_cache, max_spend_usd=cap, faults=fault_spec, done=done, lost_calls=lost,
        keep_trials=False,
    )  # fmt: skip
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    sample = 0.0 if not trace else trace_sample
    streamer = None
    if mlflow_log and sample != 0.0:
        import mlflow

        from roibench.run.session import tracking_reachable
        from roibench.sinks.mlflow.runs import default_trace_sample, start_trace_streamer

        if sample is None:
            sample = default_trace_sample(plan.total_trials)
        if tracking_reachable(mlflow.get_tracking_uri()) is None:
            streamer = start_trace_streamer(plan, experiment, sample, journal_path)
    spend = Decimal(0)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("spend ${task.fields[spend]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        bar = progress.add_task(
            cfg.name, total=plan.total_trials, completed=len(done), spend="0.0000"
        )

        cached_calls, cached_cost = 0, Decimal(0)

        def on_trial(record: TrialRecord) -> None:
            nonlocal spend, cached_calls, cached_cost
            tallies[record.cell].add(record)
            spend += fresh_spend([record])
            for call in record.calls:
                if call.cached:
                    cached_calls += 1
                    cached_cost += call.cost_usd or Decimal(0)
            progress.update(bar, advance=1, spend=f"{spend:.4f}")
            if streamer is not None:
                streamer.submit(record)

        if executor == "ray":
            from roibench.run.ray_executor import run_on_ray

            try:
                result = run_on_ray(
                    plan,
                    (previous.header.get("overrides") or {}) if previous else overrides.as_dict(),
                    journal=journal, progress=on_trial, options=options, cache_path=cache,
                    address=address, workers=workers,
                )  # fmt: skip
            except InputError as exc:
                journal.close()
                _fail_input(exc)
                return
        else:
            result = asyncio.run(
                Runner(plan, journal=journal, progress=on_trial, options=options).run()
            )
    journal.close()
    if response_cache is not None:
        response_cache.close()
    summaries = summarize(plan, tallies)
    console.print(results_table(summaries, plan.trials))
    if plan.simulated:
        console.print(
            "[dim]Results from the built-in simulator (tagged roibench.simulated=true).[/]"
        )
    for label, message in result.stopped_cells.items():
        err.print(f"[bold red]stopped:[/] cell {label}: {message}", highlight=False)
    if result.budget_stopped:
        err.print(
            f"[bold yellow]spend cap reached:[/] ${cap} — {result.skipped} trial(s) not started; "
            f"this run spent ${result.spent_usd:.4f}. Metrics cover the trials that ran.",
            highlight=False,
        )
    if cached_calls:
        err.print(
            f"cache: {cached_calls} call(s) served from {cache}; they originally cost "
            f"${cached_cost:.4f}; "
            f"this run paid ${result.spent_usd:.4f}",
            highlight=False,
        )
    console.print(f"journal: {journal_path}")
    if mlflow_log:
        logged = log_to_mlflow(
            plan, iter_trials(journal_path), summaries, journal_path, run_name, experiment,
            trace_sample=sample, streamed=streamer,
        )  # fmt: skip
        if logged.error is not None:
            err.print(
                f"[bold yellow]MLflow not logged:[/] {logged.error}. Results are safe in the "
                f"journal; log them later with: roibench log {journal_path}",
                highlight=False,
            )
        else:
            console.print(
                f"MLflow: run {logged.run_id} in experiment '{experiment or cfg.name}' "
                f"at {logged.tracking_uri}"
            )


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8787,
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    dataset: Annotated[
        list[Path] | None, typer.Option(help="Extra task files to recognise.")
    ] = None,
    faults: Annotated[
        str | None, typer.Option(help="Default faults, e.g. '429=0.1,500=0.05,timeout=0.02'.")
    ] = None,
    require_key_env: Annotated[
        str | None,
        typer.Option(help="Require 'Authorization: Bearer $VAR' (tests key handling)."),
    ] = None,
    latency: Annotated[
        float | None,
        typer.Option(min=0, help="Fixed latency in seconds for every profile (benchmarks)."),
    ] = None,
) -> None:
    """Run the simulator as an OpenAI-compatible server for any client."""
    from roibench.config.tasks import load_dataset
    from roibench.core.faults import FaultSpec
    from roibench.run.plugins import BUILTIN_WORKFLOWS, resolve_workflow
    from roibench.sim.server import SimServer

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
    try:
        fault_spec = FaultSpec.parse(faults) if faults else None
    except ValueError as exc:
        _fail_input(InputError(str(exc), field="--faults"))
        return
    key = None
    if require_key_env is not None:
        key = os.environ.get(require_key_env)
        if not key:
            _fail_input(InputError(f"{require_key_env} is not set", field="--require-key-env"))
    server = SimServer(
        tasks, host=host, port=port, faults=fault_spec, api_key=key, latency_s=latency
    )

    async def serve() -> None:
        await server.start()
        print(f"listening on {server.base_url}", flush=True)  # machine-readable first line
        console.print(
            f"roibench simulator on {server.base_url} — models: sim/frontier, "
            f"sim/balanced, sim/budget; {len(server.player)} tasks known. Ctrl-C stops."
        )
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


@app.command()
def providers() -> None:
    """List provider presets and whether each API key is set (keys are never printed)."""
    from roibench.model.providers import PRESETS

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
        table.add_row(
            p.name,
            p.base_url or "(in-process)",
            p.api_key_env or "—",
            p.key_status(),
            p.usage_dialect,
            ", ".join(quirks),
        )
    console.print(table)


from roibench.cli import register_all  # noqa: E402  (after the built-in commands)

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
