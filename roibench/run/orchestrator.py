"""The orchestrator: one suite invocation, start to finish — plan, preflight, execute (local or
Ray, behind one protocol), summarise, sink — used by `roibench run`, the benchmarks and the
Ray executor's driver alike. `log_journal` does the part after the runner from a journal alone.

Everything after execution reads the RunSpec the journal recorded and the trial records: the
live plan is only for running trials.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from roibench.config.suite import load_suite
from roibench.core.errors import InputError, RoibenchError
from roibench.core.faults import FaultSpec
from roibench.core.records import CallRecord, TrialRecord
from roibench.core.secrets import redact
from roibench.journal.spec import Overrides, RunSpec, header_line
from roibench.journal.store import Journal, TrialKey
from roibench.results.summary import CellSummary, new_tallies, summarize, tally_journal
from roibench.results.tally import CellTally
from roibench.run.filters import PlanFilter, filter_plan
from roibench.run.inputs import check_cache_path, check_out_dir

# The runner's stack (openai, LangGraph) is imported where a run is planned, not with this
# module: `run_suite` starts the MLflow helper first, so that MLflow's imports in the helper
# overlap these in the run's process.
if TYPE_CHECKING:
    from roibench.run.runner import RunOptions, RunPlan, RunResult
    from roibench.sinks.mlflow.trace_stream import MlflowOutcome, SinkHelper


class Executor(StrEnum):
    """Where a plan's trials run."""

    LOCAL = "local"
    """In this process, on asyncio."""
    RAY = "ray"
    """On a pool of Ray worker actors (optional extra `roibench[ray]`)."""


@dataclass
class RunRequest:
    """What the user asked for (the `roibench run` options)."""

    suite: Path
    out: Path = Path("roibench-runs")
    trials: int | None = None
    limit: int | None = None
    concurrency: int | None = None
    seed: int | None = None
    resume: Path | None = None
    cache: Path | None = None
    max_spend_usd: Decimal | None = None
    faults: FaultSpec | None = None
    preflight: bool = True
    trace: bool = True
    trace_sample: float | None = None
    executor: Executor = Executor.LOCAL
    address: str | None = None
    workers: int | None = None
    mlflow: bool = True
    experiment: str | None = None
    sets: tuple[str, ...] = ()
    """`--set KEY=VALUE` overrides of suite fields (the journal records the resolved suite)."""
    trial_timeout_s: float | None = None
    only: PlanFilter = field(default_factory=PlanFilter)
    """`--workflow/--agent/--model/--task/--tier`: part of the suite (the RunSpec records the
    cells and tasks that ran)."""

    @property
    def overrides(self) -> Overrides:
        """The command-line values that replace the suite's."""
        return Overrides(
            trials=self.trials, limit=self.limit, concurrency=self.concurrency, seed=self.seed,
            trial_timeout_s=self.trial_timeout_s,
        )  # fmt: skip


class Interrupted(RoibenchError):
    """Ctrl-C during the trials: the journal is closed whole; `--resume journal` continues."""

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        super().__init__(f"interrupted; resume with --resume {journal}")


class Reporter(Protocol):
    """Where the orchestrator says what is happening (a terminal, or nothing)."""

    def started(self, spec: RunSpec, done: int) -> None:
        """The run starts; `done` trials are already in the journal (resume)."""

    def trial(self, record: TrialRecord, spend_usd: Decimal) -> None:
        """A trial finished; `spend_usd` is this invocation's fresh spend so far."""

    def warn(self, message: str) -> None:
        """Something the user must know (plain text)."""

    def finished(self) -> None:
        """The last trial finished."""


class SilentReporter:
    """A reporter that says nothing (benchmarks, tests)."""

    def started(self, spec: RunSpec, done: int) -> None:
        """Nothing."""

    def trial(self, record: TrialRecord, spend_usd: Decimal) -> None:
        """Nothing."""

    def warn(self, message: str) -> None:
        """Nothing."""

    def finished(self) -> None:
        """Nothing."""


@dataclass
class Prepared:
    """A run ready to execute: the live plan, its spec, its journal's path, resume state.
    Nothing is written until `open_journal` (so a refused run leaves no file behind)."""

    plan: RunPlan
    spec: RunSpec
    journal_path: Path
    tallies: dict[str, CellTally]
    done: set[TrialKey] = field(default_factory=set)
    lost: dict[TrialKey, list[CallRecord]] = field(default_factory=dict)
    resumed: bool = False
    journal: Journal | None = None

    def open_journal(self) -> Journal:
        """Open the journal (a new one starts with the RunSpec header)."""
        if self.journal is None:
            header = None if self.resumed else header_line(self.spec)
            self.journal = Journal(self.journal_path, header=header)
        return self.journal


@dataclass
class TrialHandler:
    """The one 'trial finished' handler of every executor: the runner has journaled the
    record; this tallies it, adds its fresh spend, counts cache hits and reports progress.
    (Traces and tables are the MLflow helper's: it reads the record from the journal.)"""

    tallies: dict[str, CellTally]
    reporter: Reporter
    spend_usd: Decimal = Decimal(0)
    cached_calls: int = 0
    cached_cost_usd: Decimal = Decimal(0)
    also: Callable[[TrialRecord], None] | None = None

    def __call__(self, record: TrialRecord) -> None:
        """Handle one finished trial."""
        self.tallies[record.cell].add(record)
        self.spend_usd += record.fresh_cost_usd
        for call in record.calls:
            if call.cached:
                self.cached_calls += 1
                self.cached_cost_usd += call.cost_usd or Decimal(0)
        if self.also is not None:
            self.also(record)
        self.reporter.trial(record, self.spend_usd)


@dataclass
class SuiteOutcome:
    """What a suite invocation produced."""

    spec: RunSpec
    journal_path: Path
    summaries: dict[str, CellSummary]
    result: RunResult
    handler: TrialHandler
    mlflow: MlflowOutcome | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    """Wall seconds of each phase: 'prepare' (plan, checks, the journal's header), 'trials',
    'summary' (the statistics), 'logging' (waiting for MLflow)."""


def _new_journal_path(out: Path, suite_name: str) -> tuple[Path, str]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base, n = stamp, 1
    while (out / suite_name / stamp).exists():  # two runs started in the same second
        n += 1
        stamp = f"{base}-{n}"
    return out / suite_name / stamp / "journal.jsonl", stamp


def _refuse_conflicts(request: RunRequest, spec: RunSpec) -> None:
    """`--resume` runs what the journal's spec says; a flag that says otherwise is refused."""
    recorded = spec.options.overrides
    asked = request.overrides
    for name in ("trials", "limit", "concurrency", "seed", "trial_timeout_s"):
        value = getattr(asked, name)
        flag = "--trial-timeout" if name == "trial_timeout_s" else f"--{name}"
        if value is not None and value != getattr(recorded, name):
            was = getattr(recorded, name)
            raise InputError(
                f"{flag} {value} conflicts with the journal being resumed "
                f"({flag + ' ' + str(was) if was is not None else 'the suite value'}); "
                "a resumed run keeps what it started with",
                field=flag,
            )
    if request.faults is not None and request.faults != spec.options.faults:
        raise InputError(
            "--faults conflicts with the journal being resumed (it keeps its own faults)",
            field="--faults",
        )


def prepare(request: RunRequest) -> Prepared:
    """Plan the run (or the resume) and open its journal; every problem is an InputError."""
    from roibench.run.local_models import check_local_models
    from roibench.run.plan import build_run_spec, plan_from_spec, read_run_spec
    from roibench.run.preflight import git_commit
    from roibench.run.runner import plan_suite

    if request.resume is not None:
        if request.only.any:
            raise InputError("--resume runs the rest of the run as it started; no filters")
        spec = read_run_spec(request.resume)
        _refuse_conflicts(request, spec)
        current = load_suite(request.suite, request.sets)
        if redact(current.text) != redact(spec.suite.text):  # the journal's copy is masked
            raise InputError(
                f"the suite changed since {request.resume} was written; resume needs the "
                "same suite",
                file=request.suite,
            )
        # planned from the suite as given: the journal's copy has its URL credentials masked
        plan = plan_from_spec(spec, request.resume, suite_text=current.text)
        check_local_models(plan, ray=request.executor is Executor.RAY)
        tallies, previous = tally_journal(spec, request.resume)
        return Prepared(
            plan=plan,
            spec=spec,
            journal_path=request.resume,
            tallies=tallies,
            done=previous.done,
            lost=previous.lost_calls,
            resumed=True,
        )
    check_out_dir(request.out)
    loaded = load_suite(request.suite, request.sets)
    o = request.overrides
    plan = plan_suite(
        loaded, trials=o.trials, limit=o.limit, concurrency=o.concurrency, seed=o.seed,
        trial_timeout_s=o.trial_timeout_s,
    )  # fmt: skip
    plan = filter_plan(plan, request.only)
    check_local_models(plan, ray=request.executor is Executor.RAY)  # GGUF files: found, hashed
    path, stamp = _new_journal_path(request.out, loaded.config.name)
    spec = build_run_spec(
        plan,
        run_name=f"{loaded.config.name}-{stamp}",
        started_at=datetime.now(UTC),
        overrides=o,
        faults=request.faults,
        max_spend_usd=request.max_spend_usd,
        trace_sample=request.trace_sample,
        executor=request.executor.value,
        git_commit=git_commit(loaded.path.parent),
    )
    return Prepared(plan=plan, spec=spec, journal_path=path, tallies=new_tallies(spec))


def check(prepared: Prepared, request: RunRequest) -> None:
    """Refuse what cannot run: a --cache that is no cache, references naming unknown tools or
    bad arguments, budgets short of the longest reference (the static part of `roibench
    check`), an unpriced model under a spend cap, unreachable endpoints."""
    from roibench.run.check import check_plan

    check_cache_path(request.cache)
    found = check_plan(prepared.plan, replay=False).problems
    if found:
        raise InputError(
            "; ".join(p.render() for p in found[:5])
            + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
            + f" (roibench check {request.suite} lists them all)"
        )
    if request.max_spend_usd is not None:
        unpriced = sorted({c.model.name for c in prepared.spec.cells if c.price is None})
        if unpriced:
            raise InputError(
                f"--max-spend needs every model priced; unpriced: {', '.join(unpriced)}"
            )
    if request.preflight:
        from roibench.run.preflight import check_endpoints

        problems = check_endpoints(prepared.plan)
        if problems:
            raise InputError("; ".join(p.message for p in problems), file=request.suite)


def _options(prepared: Prepared, request: RunRequest) -> RunOptions:
    from roibench.model.cache import ResponseCache
    from roibench.run.runner import RunOptions

    faults = prepared.spec.options.faults if prepared.resumed else request.faults
    return RunOptions(
        cache=ResponseCache(request.cache) if request.cache is not None else None,
        max_spend_usd=request.max_spend_usd,
        faults=faults,
        done=prepared.done,
        lost_calls=prepared.lost,
        keep_trials=False,
    )


def execute(prepared: Prepared, request: RunRequest, handler: TrialHandler) -> RunResult:
    """Run the plan's remaining trials on the chosen executor; every record is journaled by
    the executor and handed to `handler`."""
    options = _options(prepared, request)
    journal = prepared.open_journal()
    try:
        if request.executor is Executor.RAY:
            from roibench.run.ray_executor import run_on_ray

            return run_on_ray(
                prepared.plan,
                prepared.spec.options.overrides.model_dump(),
                journal=journal,
                progress=handler,
                options=options,
                cache_path=request.cache,
                address=request.address,
                workers=request.workers,
            )
        from roibench.run.runner import Runner

        runner = Runner(prepared.plan, journal=journal, progress=handler, options=options)
        return asyncio.run(runner.run())
    except KeyboardInterrupt:  # the trials in flight are lost: their calls are journaled
        raise Interrupted(prepared.journal_path) from None
    finally:
        journal.close()
        if options.cache is not None:
            options.cache.close()


def trace_sample_for(request: RunRequest, spec: RunSpec) -> float:
    """The fraction of trials traced: 0 without traces, else the request's or the default."""
    if not request.trace:
        return 0.0
    if request.trace_sample is not None:
        return request.trace_sample
    from roibench.sinks.mlflow.traces import default_trace_sample

    return default_trace_sample(spec.total_trials)


def start_helper(helper: SinkHelper, prepared: Prepared, request: RunRequest) -> None:
    """Point the MLflow helper at the run's journal: it traces and tabulates the trials from
    there as they finish, and logs the run at the end."""
    from roibench.sinks.mlflow.traces import trace_fields

    spec = prepared.spec
    contexts = {cell.label: trace_fields(cell, spec) for cell in spec.cells}
    sample = trace_sample_for(request, spec)
    helper.start(
        spec, prepared.journal_path, request.experiment, sample, contexts,
        fresh=not prepared.resumed,
    )  # fmt: skip


def _warm_statistics() -> None:
    """Import what the summary needs (numpy, ~0.2 s) while the trials wait on the model."""
    import numpy  # noqa: F401  # pyright: ignore[reportUnusedImport]


def run_suite(request: RunRequest, reporter: Reporter | None = None) -> SuiteOutcome:
    """One suite invocation: prepare, check, execute, summarise, log. Input problems raise
    InputError before anything is written to MLflow."""
    reporter = reporter or SilentReporter()
    t0 = time.perf_counter()
    if request.executor is Executor.RAY:
        from roibench.run.executors import require_ray

        require_ray()
    elif request.address is not None or request.workers is not None:
        raise InputError("--address and --workers need --executor ray", field="--executor")
    helper: SinkHelper | None = None
    if request.mlflow:
        # first: the helper imports MLflow and opens its store while this process plans and
        # runs the trials (it writes nothing until `start`: a refused run logs nothing)
        from roibench.sinks.mlflow.trace_stream import SinkHelper

        helper = SinkHelper()
    try:
        prepared = prepare(request)
        check(prepared, request)
        prepared.open_journal()
        t1 = time.perf_counter()
        if helper is not None:
            start_helper(helper, prepared, request)
        handler = TrialHandler(prepared.tallies, reporter)
        reporter.started(prepared.spec, len(prepared.done))
        warming = threading.Thread(target=_warm_statistics, name="roibench-warm", daemon=True)
        warming.start()
        try:
            result = execute(prepared, request, handler)
        finally:
            reporter.finished()
        t2 = time.perf_counter()
        warming.join()
        summaries = summarize(prepared.spec, prepared.tallies)
        outcome = SuiteOutcome(prepared.spec, prepared.journal_path, summaries, result, handler)
        t3 = time.perf_counter()
        outcome.timings_s = {"prepare": t1 - t0, "trials": t2 - t1, "summary": t3 - t2}
        outcome.timings_s["logging"] = 0.0
        if helper is not None:
            outcome.mlflow = helper.finish(prepared.spec, summaries)
            outcome.timings_s["logging"] = time.perf_counter() - t3
    except BaseException:  # refused, interrupted (Interrupted: resume it) or failed
        if helper is not None:
            helper.abort()  # nothing is logged: `roibench log` or the resume does it
        raise
    return outcome


def log_journal(
    journal: Path,
    experiment: str | None = None,
    *,
    trace_sample: float | None = None,
    extra_tags: dict[str, str] | None = None,
) -> tuple[RunSpec, int, MlflowOutcome]:
    """`roibench log`: the part after the runner, from a journal alone — its RunSpec and
    records, never the live suite or today's code. Returns (spec, trials, MLflow outcome)."""
    from roibench.journal.store import iter_trials
    from roibench.run.plan import read_run_spec
    from roibench.sinks.mlflow.runs import log_to_mlflow

    spec = read_run_spec(journal)
    # two streaming passes (figures, then tables): a long run is never held in memory
    tallies, scan = tally_journal(spec, journal)
    summaries = summarize(spec, tallies)
    logged = log_to_mlflow(
        spec, iter_trials(journal), summaries, journal, experiment,
        trace_sample=trace_sample, extra_tags=extra_tags,
    )  # fmt: skip
    return spec, scan.trials, logged
