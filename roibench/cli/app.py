"""The `roibench` command line. Heavy imports (mlflow, pandas, langgraph) happen inside the
commands that need them, so `roibench --help` is instant."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape

from roibench.cli.tables import make_console, print_grid, print_results, providers_grid
from roibench.core.errors import InputError

if TYPE_CHECKING:
    from roibench.core.records import TrialRecord
    from roibench.journal.spec import RunSpec
    from roibench.run.orchestrator import RunRequest, SuiteOutcome

app = typer.Typer(
    name="roibench",
    help="Measure what AI agents are worth: reliability, cost per outcome and ROI, in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = make_console()
err = make_console(stderr=True)


def _fail_input(exc: InputError) -> None:
    # escaped: messages hold brackets ("pip install 'roibench[ray]'") that are not markup
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


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
        typer.Option(
            min=0, help="USD cap on fresh spend, checked before every trial and every request."
        ),
    ] = None,
    trial_timeout: Annotated[
        float | None,
        typer.Option(
            "--trial-timeout",
            min=0.001,
            help="Seconds one trial may take (suite: trial_timeout_s); a hung one is cancelled.",
        ),
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
    set_values: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a suite field, typed by the schema: --set trials=5 "
            "--set outcome_pricing.price_usd=2 (repeatable; recorded in the journal).",
        ),
    ] = None,
    only_workflow: Annotated[
        list[str] | None, typer.Option("--workflow", help="Only this workflow (repeatable).")
    ] = None,
    only_agent: Annotated[
        list[str] | None, typer.Option("--agent", help="Only this agent (repeatable).")
    ] = None,
    only_model: Annotated[
        list[str] | None, typer.Option("--model", help="Only this model label (repeatable).")
    ] = None,
    only_task: Annotated[
        list[str] | None, typer.Option("--task", help="Only tasks matching (repeatable, glob).")
    ] = None,
    only_tier: Annotated[
        list[str] | None, typer.Option("--tier", help="Only tasks of this tier (repeatable).")
    ] = None,
) -> None:
    """Run a suite: every workflow x agent x model, on every task, k times."""
    from roibench.cli.problems import EXIT_INTERRUPTED
    from roibench.core.faults import FaultSpec
    from roibench.run.filters import PlanFilter
    from roibench.run.orchestrator import Executor, Interrupted, RunRequest, run_suite

    try:
        if executor not in {e.value for e in Executor}:
            raise InputError(f"unknown executor {executor!r} (local or ray)", field="--executor")
        try:
            fault_spec = FaultSpec.parse(faults) if faults else None
        except ValueError as exc:
            raise InputError(str(exc), field="--faults") from None
        request = RunRequest(
            suite=suite, out=out, trials=trials, limit=limit, concurrency=concurrency, seed=seed,
            resume=resume, cache=cache,
            max_spend_usd=None if max_spend is None else Decimal(str(max_spend)),
            faults=fault_spec, preflight=preflight, trace=trace, trace_sample=trace_sample,
            executor=Executor(executor), address=address, workers=workers, mlflow=mlflow_log,
            experiment=experiment, sets=tuple(set_values or ()), trial_timeout_s=trial_timeout,
            only=PlanFilter(
                workflows=tuple(only_workflow or ()), agents=tuple(only_agent or ()),
                models=tuple(only_model or ()), tasks=tuple(only_task or ()),
                tiers=tuple(only_tier or ()),
            ),
        )  # fmt: skip
        reporter = _TerminalReporter()
        outcome = run_suite(request, reporter)
    except InputError as exc:
        _fail_input(exc)
        return
    except Interrupted as stop:  # Ctrl-C: the journal is whole up to here
        err.print(
            f"[bold yellow]interrupted:[/] the journal holds every finished trial; continue "
            f"with:\n  roibench run {suite} --resume {stop.journal}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    _print_outcome(outcome, request)
    _ended["run"] = True  # the journal and MLflow are written and closed: nothing left to flush
    for line in reporter.problems.harness_lines():
        err.print(f"[bold red]harness:[/] {escape(line)}", highlight=False, soft_wrap=True)
    code = reporter.problems.exit_code(outcome.result)
    if code:
        stopped = len(outcome.result.stopped_cells)
        harness = sum(reporter.problems.harness.values())
        what = [f"{harness} harness error(s)"] if harness else []
        what += [f"{stopped} cell(s) stopped"] if stopped else []
        err.print(
            f"[bold red]the run needs attention:[/] {'; '.join(what)} (exit {code})",
            highlight=False,
        )
        raise typer.Exit(code=code)


class _TerminalReporter:
    """Progress bar and warnings on stderr."""

    def __init__(self) -> None:
        from roibench.cli.problems import RunProblems

        self._progress: Any = None
        self._bar: Any = None
        self.problems = RunProblems()
        """Harness errors seen, for the end-of-run summary and the exit code."""

    def started(self, spec: RunSpec, done: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from roibench.pricing.cards import unpriced_hint

        warned: set[str] = set()
        for cell in spec.cells:
            if cell.price is None and cell.model.name not in warned:
                warned.add(cell.model.name)
                hint = unpriced_hint(cell.model.name, cell.model.model_id, cell.model.spec.provider)
                err.print(f"[bold yellow]warning:[/] {hint}", highlight=False)
        if done:
            err.print(f"resuming: {done} trials done", highlight=False)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("spend ${task.fields[spend]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self._progress.start()
        self._bar = self._progress.add_task(
            spec.suite.name, total=spec.total_trials, completed=done, spend="0.0000"
        )

    def trial(self, record: TrialRecord, spend_usd: Decimal) -> None:
        self._progress.update(self._bar, advance=1, spend=f"{spend_usd:.4f}")
        self.problems.add(record)

    def warn(self, message: str) -> None:
        err.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False)

    def finished(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _print_outcome(outcome: SuiteOutcome, request: RunRequest) -> None:
    """The end-of-run table and what the user must know."""
    spec, result, handler = outcome.spec, outcome.result, outcome.handler
    print_results(console, outcome.summaries, spec.trials, spec.outcome_pricing.scheme)
    if spec.simulated:
        console.print(
            "[dim]Results from the built-in simulator (tagged roibench.simulated=true).[/]"
        )
    for label, message in result.stopped_cells.items():
        err.print(f"[bold red]stopped:[/] cell {label}: {message}", highlight=False)
    if result.budget_stopped:
        err.print(
            f"[bold yellow]spend cap reached:[/] ${request.max_spend_usd} — {result.skipped} "
            f"trial(s) not started; this run spent ${result.spent_usd:.4f}. Metrics cover the "
            "trials that ran.",
            highlight=False,
        )
    if handler.cached_calls:
        err.print(
            f"cache: {handler.cached_calls} call(s) served from {request.cache}; they "
            f"originally cost ${handler.cached_cost_usd:.4f}; this run paid "
            f"${result.spent_usd:.4f}",
            highlight=False,
        )
    console.print(f"journal: {outcome.journal_path}")
    took = outcome.timings_s  # the phases, for whoever wonders where a run's time went
    err.print(
        "[dim]time: " + ", ".join(f"{phase} {s:.2f} s" for phase, s in took.items()) + "[/]",
        highlight=False,
    )
    logged = outcome.mlflow
    if logged is None:
        return
    if logged.error is not None:
        err.print(f"[bold yellow]MLflow not logged:[/] {escape(logged.error)}", highlight=False)
    else:
        console.print(
            f"MLflow: run {logged.run_id} in experiment "
            f"'{request.experiment or spec.suite.name}' at {logged.tracking_uri}"
        )


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8787,
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    dataset: Annotated[
        list[Path] | None,
        typer.Option(
            help="Extra task files to recognise (with the tools of the one --workflow given)."
        ),
    ] = None,
    workflow: Annotated[
        list[str] | None,
        typer.Option(
            help="A workflow of your own (module:attr, file.py:attr): its default dataset is "
            "recognised, with what its tools are declared to be (writes, escalation)."
        ),
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
    """Run the simulator as an OpenAI-compatible server for any client (see the README, "What
    the simulator does"): the built-in workflows' tasks, and yours with --workflow/--dataset."""
    from roibench.config.tasks import Task, load_dataset
    from roibench.core.faults import FaultSpec
    from roibench.run.plugins import BUILTIN_WORKFLOWS, resolve_workflow
    from roibench.sim.player import UNKNOWN_TOOLS, ToolTraits
    from roibench.sim.server import SimServer

    registered: list[tuple[list[Task], ToolTraits]] = []
    try:
        own = [resolve_workflow(ref, [Path.cwd()]) for ref in workflow or []]
        if dataset and len(own) > 1:
            raise InputError("--dataset goes with at most one --workflow", field="--dataset")
        for wf in [resolve_workflow(name, [Path.cwd()]) for name in BUILTIN_WORKFLOWS] + own:
            if wf.dataset is not None and not (dataset and wf in own):
                tasks = list(load_dataset(Path(wf.dataset), wf.validate_task).tasks)
                registered.append((tasks, ToolTraits.of(wf.env)))
        traits = ToolTraits.of(own[0].env) if own else UNKNOWN_TOOLS
        for path in dataset or []:
            validate = own[0].validate_task if own else None
            registered.append((list(load_dataset(path, validate).tasks), traits))
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
    server = SimServer(host=host, port=port, faults=fault_spec, api_key=key, latency_s=latency)
    for tasks, traits in registered:
        server.player.register(tasks, traits)

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

    print_grid(console, providers_grid(list(PRESETS.values())))


from roibench.cli import register_all  # noqa: E402  (after the built-in commands)

register_all(app)


def _redacting_excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    """A crash's traceback, with every known key and URL credential masked (a bug's exception
    text may quote a request, a header or a URL)."""
    import traceback

    from roibench.core.secrets import redact

    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


_ended: dict[str, bool] = {}
"""Set by a command that has finished with every file closed: then the process may end
without the interpreter's teardown (`roibench run`, where it costs most)."""


def _exit_now(code: int | str | None) -> NoReturn:
    """End the process the way `sys.exit(code)` would — exit handlers run, streams flushed —
    without then tearing the interpreter's objects down one by one: after a run has loaded
    openai, LangGraph and pydantic that takes ~0.5 s and does nothing anyone needs. Where a
    thread that is not a daemon still runs, or no command said it had closed everything, it
    is left to the normal exit."""
    import atexit
    import threading

    if not isinstance(code, int):  # sys.exit's own rules: None is 0, any other value 1
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    main_thread = threading.main_thread()
    if not _ended or any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()  # pyright: ignore[reportPrivateUsage]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(code)


def main() -> None:
    """Console-script entry point."""
    sys.excepthook = _redacting_excepthook
    try:
        app()
    except InputError as exc:  # raised outside a command's own handling
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        _exit_now(2)
    except SystemExit as exc:  # how typer ends every command
        _exit_now(exc.code)
    _exit_now(0)


if __name__ == "__main__":
    main()
