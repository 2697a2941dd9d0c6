"""Regrade a finished run without calling any model: replay each trial's recorded tool calls
into a fresh environment of the current (or another) workflow, grade the end state again with
the recorded reply and conversation, and recompute the economics — under a changed grader,
loss rule or value model.

The regraded trials go to a new journal whose header is the original's plus a `regrade`
record (what was replaced, from where), so every other command (`show`, `log`, `reprice`,
`report` once logged) reads it like any run's journal. Trials that ended in an
infrastructure error keep their outcome: there is no end state to grade.

A replay is only as good as the tools are deterministic: a tool call whose replayed result
differs from the recorded one (the tool's code changed, or it is not a pure function of the
task state) is reported per trial, because the agent would have seen something else.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roibench.config.suite import parse_suite
from roibench.config.tasks import Task
from roibench.config.value import ValueModel
from roibench.config.value_file import load_value_models, value_model_for
from roibench.core.errors import InputError
from roibench.core.outcomes import Outcome, OutcomeStatus
from roibench.core.records import ToolCallRecord, TrialRecord
from roibench.core.secrets import redact
from roibench.journal.spec import RunSpec, header_line
from roibench.journal.store import iter_lines, read_header, scan_journal, trial_from_line
from roibench.results.summary import CellSummary, new_tallies, summarize
from roibench.run.plan import cell_spec, read_run_spec, restrict_to_spec
from roibench.run.plugins import resolve_workflow
from roibench.run.runner import Cell, RunPlan, plan_suite
from roibench.workflow import Env, Transcript, Workflow

RESULT_CHARS = 2000
"""Tool results are recorded cut to this many characters (runner), and compared so."""


class RegradeRecord(BaseModel):
    """What a regraded journal's header records under `regrade`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_journal: str = Field(description="The journal that was regraded (absolute path).")
    from_run: str | None = Field(default=None, description="Its MLflow suite run, if known.")
    workflow: str | None = Field(
        default=None, description="The workflow reference graded with (None: the run's own)."
    )
    value_models: dict[str, ValueModel] = Field(
        default_factory=dict, description="Value models by workflow name ('*': every one)."
    )
    value_model_file: str | None = None
    at: datetime = Field(description="When the regrade ran (UTC).")
    original_run_name: str = Field(description="The run first graded (through chained regrades).")


@dataclass(frozen=True)
class TrialChange:
    """One trial whose outcome the regrade changed."""

    cell: str
    task_id: str
    tier: str
    trial: int
    before: Outcome
    after: Outcome


@dataclass
class RegradeResult:
    """What a regrade produced."""

    source: Path
    journal: Path
    """The new journal."""
    run_name: str
    record: RegradeRecord
    spec: RunSpec
    """The regraded journal's spec (the workflow and value models graded under)."""
    labels: dict[str, str]
    """Original cell label -> regraded label (differs when the workflow's name does)."""
    original: dict[str, CellSummary]
    """By original label."""
    regraded: dict[str, CellSummary]
    """By regraded label."""
    changes: list[TrialChange] = field(default_factory=list)
    trials: int = 0
    not_regraded: int = 0
    """Trials that ended in an infrastructure error (kept as they were)."""
    diverged: list[tuple[str, str, int, str]] = field(default_factory=list)
    """(cell, task, trial, what differed) of replays that did not match the record."""


def _base_dirs(plan: RunPlan) -> list[Path]:
    suite_dir = plan.suite.path.parent.resolve()
    dirs = [Path.cwd(), suite_dir]
    if suite_dir.name == "evals":
        dirs.append(suite_dir.parent)
    return dirs


def absolute_ref(ref: str) -> str:
    """A workflow reference with a relative file path made absolute (recorded in the header,
    so reading the journal elsewhere finds the same file)."""
    if ":" not in ref:
        return ref
    target, attr = ref.rsplit(":", 1)
    if (target.endswith(".py") or "/" in target) and not Path(target).is_absolute():
        path = Path(target).expanduser()
        if path.is_file():
            return f"{path.resolve()}:{attr}"
    return ref


def _replace_workflow(plan: RunPlan, ref: str) -> dict[str, str]:
    """Grade with the workflow `ref` names: it replaces the run's workflow of the same name
    (or the run's only workflow). Returns old label -> new label for the cells replaced."""
    base_dirs = _base_dirs(plan)
    try:
        probe = resolve_workflow(ref, base_dirs)
    except InputError as exc:
        raise InputError(exc.detail, field="--workflow") from None
    names = sorted({c.workflow.name for c in plan.cells})
    if probe.name in names:
        target = probe.name
    elif len(names) == 1:
        target = names[0]
    else:
        raise InputError(
            f"workflow {ref!r} is named {probe.name!r}; the run's workflows are "
            f"{', '.join(names)} — it replaces the one of its name (or a run's only one)",
            field="--workflow",
        )
    made: dict[int, tuple[Workflow, Any]] = {}
    labels: dict[str, str] = {}
    for cell in plan.cells:
        if cell.workflow.name != target:
            continue
        old = cell.workflow
        if id(old) not in made:
            wf = probe if not made else resolve_workflow(ref, base_dirs)
            wref = cell.workflow_ref
            try:
                wf.configure(dict(wref.options), user_simulator=wref.user_model is not None)
            except ValueError as exc:
                raise InputError(str(exc), field="--workflow") from None
            dataset = wf.load_tasks(cell.dataset.path)
            if wref.value_model is not None:
                wf.value_model = wref.value_model  # type: ignore[misc]
            made[id(old)] = (wf, dataset)
        before = cell.label
        cell.workflow, cell.dataset = made[id(old)]
        labels[before] = cell.label
    return labels


def _apply_value_models(plan: RunPlan, models: dict[str, ValueModel]) -> None:
    for cell in plan.cells:
        vm = value_model_for(models, cell.workflow.name)
        if vm is not None:
            cell.workflow.value_model = vm  # type: ignore[misc]


def _replay_args(call: ToolCallRecord) -> str | dict[str, Any]:
    """The arguments to replay a call with. A call whose arguments were not a JSON object was
    recorded with {} and an error: replay it with arguments that fail the same way, so it
    neither runs nor changes state."""
    if not call.ok and call.result.startswith("error: arguments are not valid JSON"):
        return "{"
    if not call.ok and call.result.startswith("error: arguments must be a JSON object"):
        return "[]"
    return call.args


async def _replay(env: Env, calls: tuple[ToolCallRecord, ...]) -> str | None:
    """Run the recorded calls on `env`; what first differed from the record, if anything."""
    diverged: str | None = None
    for i, call in enumerate(calls, start=1):
        result = await env.call(call.name, _replay_args(call))
        if diverged is not None:
            continue
        ok = env.calls[-1].ok if env.calls else False
        if ok != call.ok:
            diverged = f"tool call {i} ({call.name}) {'succeeded' if ok else 'failed'} on replay"
        elif ok and result[:RESULT_CHARS] != call.result:
            diverged = f"tool call {i} ({call.name}) returned something else on replay"
    return diverged


def regrade_trial(
    workflow: Workflow, task: Task, trial: TrialRecord, loop: asyncio.AbstractEventLoop
) -> tuple[Outcome, str | None]:
    """The trial's outcome graded again by `workflow` (an error outcome is kept), and what
    differed on replay, if anything."""
    if trial.outcome.status is OutcomeStatus.ERROR:
        return trial.outcome, None
    env = workflow.new_env(task)
    diverged = loop.run_until_complete(_replay(env, trial.tool_log))
    transcript = Transcript(messages=[m.as_message() for m in trial.messages], reply=trial.reply)
    try:
        outcome = workflow.grade(task, env, transcript)
    except Exception as exc:  # a grader bug must not stop the regrade (as in the runner)
        outcome = Outcome.error(f"{type(exc).__name__}: {exc}")
    return outcome, diverged


def _trial_of(line: str) -> TrialRecord | None:
    """The trial of a journal line (None for a call line)."""
    trial = trial_from_line(line.rstrip("\n"))
    if trial is None and '"trial"' in line:  # written by something other than `Journal`
        obj = json.loads(line)
        if isinstance(obj, dict) and obj.get("kind") == "trial":
            return TrialRecord.model_validate(obj["trial"])
    return trial


def _is_logged_line(line: str) -> bool:
    """A journal's record of the MLflow run it was logged as (`Journal.append_logged`)."""
    if '"logged"' not in line:
        return False
    obj = json.loads(line)
    return isinstance(obj, dict) and obj.get("kind") == "logged"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def live_plan(spec: RunSpec, previous: RegradeRecord | None) -> RunPlan:
    """The suite the spec recorded, planned again with today's code and narrowed to the cells
    and tasks that ran — not checked against the recorded digests, as a resume is: grading
    under changed code is the point. A previous regrade's workflow is put back in (the spec's
    labels are already its)."""
    o = spec.options.overrides
    plan = plan_suite(
        parse_suite(spec.suite.text, Path(spec.suite.file)),
        trials=o.trials, limit=o.limit, concurrency=o.concurrency, seed=o.seed,
    )  # fmt: skip
    if previous is not None and previous.workflow is not None:
        _replace_workflow(plan, previous.workflow)
    restrict_to_spec(plan, spec)
    missing = [c.label for c in spec.cells if c.label not in {p.label for p in plan.cells}]
    if missing:
        raise InputError(
            f"cell(s) {', '.join(missing)} of the journal are not in its suite as planned "
            "today (a workflow, agent or model was renamed or removed)",
            line=1,
        )
    return plan


def regraded_spec(spec: RunSpec, plan: RunPlan, labels: dict[str, str], run_name: str) -> RunSpec:
    """The spec of the regraded journal: the original, renamed, each cell's workflow record
    the one graded under (code digest, value model, write tools), tasks and prices as run."""
    live = {c.label: c for c in plan.cells}
    cells = []
    for cell in spec.cells:
        new_label = labels.get(cell.label, cell.label)
        graded = cell_spec(live[new_label]).workflow.model_copy(
            update={"tasks": cell.workflow.tasks, "ref": cell.workflow.ref}
        )
        cells.append(cell.model_copy(update={"label": new_label, "workflow": graded}))
    return spec.model_copy(update={"run_name": run_name, "cells": tuple(cells)})


def regrade_journal(
    source: Path,
    out: Path,
    *,
    workflow: str | None = None,
    value_model: Path | None = None,
    from_run: str | None = None,
) -> RegradeResult:
    """Regrade every trial of the journal at `source` into a new journal under `out`
    (`<suite>/<stamp>-regrade/journal.jsonl`), written whole or not at all."""
    header = read_header(source)
    spec = read_run_spec(source)
    previous: RegradeRecord | None = None
    if header.get("regrade") is not None:  # a regraded journal regraded again: what the
        previous = RegradeRecord.model_validate(header["regrade"])  # first one put in holds
    try:
        plan = live_plan(spec, previous)
    except InputError as exc:
        raise InputError(exc.detail, file=source, line=1) from None
    models = load_value_models(value_model) if value_model is not None else {}
    if previous is not None:
        models = {**previous.value_models, **models}
    ref = absolute_ref(workflow) if workflow is not None else None
    labels = _replace_workflow(plan, ref) if ref is not None else {}
    _apply_value_models(plan, models)  # after the workflow: its own model would replace them
    stamp = _stamp()
    original_name = previous.original_run_name if previous is not None else spec.run_name
    run_name = f"{original_name}-regrade-{stamp}"
    if from_run is None:  # the run the journal was logged as, if it was
        from_run = scan_journal(source).mlflow_run_id
    record = RegradeRecord(
        from_journal=str(source.resolve()),
        from_run=from_run,
        workflow=ref or (previous.workflow if previous else None),
        value_models=models,
        value_model_file=str(value_model.resolve()) if value_model is not None else None,
        at=datetime.now(UTC),
        original_run_name=original_name,
    )
    new_spec = regraded_spec(spec, plan, labels, run_name)
    cells = {c.label: c for c in plan.cells}
    tasks: dict[str, dict[str, Task]] = {
        c.label: {t.id: t for t in c.dataset.tasks} for c in plan.cells
    }
    original = new_tallies(spec)
    regraded = new_tallies(new_spec)
    result = RegradeResult(
        source=source, journal=Path(), run_name=run_name, record=record, spec=new_spec,
        labels=labels, original={}, regraded={},
    )  # fmt: skip

    folder = out / spec.suite.name / f"{stamp}-regrade"
    n = 1
    while folder.exists():  # two regrades in the same second
        n += 1
        folder = out / spec.suite.name / f"{stamp}-regrade-{n}"
    folder.mkdir(parents=True)
    target = folder / "journal.jsonl"
    partial = folder / "journal.jsonl.partial"
    loop = asyncio.new_event_loop()
    try:
        with partial.open("w", encoding="utf-8") as f:
            new_header = {**header_line(new_spec), "regrade": record.model_dump(mode="json")}
            f.write(redact(json.dumps({"kind": "header", **new_header}, default=str)) + "\n")
            for line_no, line in iter_lines(source):
                if line_no == 1:
                    continue  # the header, rewritten above
                try:
                    trial = _trial_of(line)
                except (ValueError, KeyError, TypeError) as exc:
                    raise InputError(
                        f"bad journal line: {exc}", file=source, line=line_no
                    ) from None
                if trial is None:
                    if not _is_logged_line(line):  # the original's MLflow run is not ours
                        f.write(line)  # calls of attempts lost in flight: kept as they were
                    continue
                label = labels.get(trial.cell, trial.cell)
                cell: Cell | None = cells.get(label)
                task = tasks.get(label, {}).get(trial.task_id)
                if cell is None or task is None:
                    what = f"cell {trial.cell!r}" if cell is None else f"task {trial.task_id!r}"
                    raise InputError(
                        f"a trial of {what}, which the run's suite and datasets as they are "
                        "now do not have",
                        file=source,
                        line=line_no,
                    )
                outcome, diverged = regrade_trial(cell.workflow, task, trial, loop)
                result.trials += 1
                if trial.outcome.status is OutcomeStatus.ERROR:
                    result.not_regraded += 1
                if diverged is not None:
                    result.diverged.append((label, trial.task_id, trial.trial, diverged))
                update: dict[str, Any] = {"outcome": outcome}
                if label != trial.cell:
                    update.update(cell=label, workflow=cell.workflow.name)
                if outcome != trial.outcome:
                    update["original_outcome"] = trial.outcome
                    result.changes.append(
                        TrialChange(
                            label, trial.task_id, trial.tier, trial.trial, trial.outcome, outcome
                        )
                    )
                new = trial.model_copy(update=update)
                original[trial.cell].add(trial)
                regraded[label].add(new)
                f.write(redact('{"kind":"trial","trial":' + new.model_dump_json() + "}") + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()
        raise
    finally:
        loop.close()
    result.journal = target
    result.original = summarize(spec, original)
    result.regraded = summarize(new_spec, regraded)
    return result


def loss_delta(result: RegradeResult) -> Decimal:
    """Measured loss after minus before, over every cell."""
    after = sum((s.economics.loss_usd for s in result.regraded.values()), Decimal(0))
    before = sum((s.economics.loss_usd for s in result.original.values()), Decimal(0))
    return after - before


@dataclass(frozen=True)
class LoggedRegrade:
    """Where a regrade was logged, or why not."""

    run_id: str | None
    origin: str
    """The `roibench.regraded_from` tag: the original suite run id, else the journal path."""
    error: str | None = None


def find_original_run(run_name: str, experiment: str) -> str | None:
    """The suite run of that name in the experiment, if logged (the newest)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    found = client.search_runs(
        [exp.experiment_id],
        filter_string=f"attributes.run_name = '{run_name}' and tags.`roibench.role` = 'suite'",
        order_by=["attributes.start_time DESC"],
        max_results=5,
    )
    return found[0].info.run_id if found else None


def differences_json(result: RegradeResult) -> str:
    """The changed trials as JSON (the run's `regrade/differences.json`)."""
    rows = [
        {
            "cell": c.cell,
            "task_id": c.task_id,
            "tier": c.tier,
            "trial": c.trial,
            "before": c.before.model_dump(mode="json"),
            "after": c.after.model_dump(mode="json"),
        }
        for c in result.changes
    ]
    diverged = [
        {"cell": cell, "task_id": task, "trial": k, "replay": what}
        for cell, task, k, what in result.diverged
    ]
    return json.dumps({"changed": rows, "diverged": diverged}, indent=2)


def regrade_origin(record: RegradeRecord, experiment: str) -> str:
    """What a regraded run's `roibench.regraded_from` names: the original suite run (as the
    regrade recorded it, else found by name in the experiment), else the journal's path."""
    origin = record.from_run
    if origin is None:
        try:
            origin = find_original_run(record.original_run_name, experiment)
        except Exception:  # an unreachable store: the path still says where it came from
            origin = None
    return origin or record.from_journal


def regrade_tags(record: RegradeRecord, origin: str, changed: int | None = None) -> dict[str, str]:
    """The tags of a regraded run (parent and cells)."""
    tags = {
        "roibench.regraded_from": origin,
        "roibench.regrade_workflow": record.workflow or "the run's own",
        "roibench.regrade_value_model": record.value_model_file or "the workflow's own",
    }
    if changed is not None:
        tags["roibench.regrade_changed_trials"] = str(changed)
    return {k: v[:5000] for k, v in tags.items()}


def regrade_log_tags(journal: Path, experiment: str | None) -> dict[str, str] | None:
    """`roibench log` of a regraded journal: the tags that say what it regrades (None for a
    journal that is not a regrade)."""
    raw = read_header(journal).get("regrade")
    if raw is None:
        return None
    from pydantic import ValidationError

    try:
        record = RegradeRecord.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"bad regrade record: {exc}", file=journal, line=1) from None
    name = experiment or read_run_spec(journal).suite.name
    return regrade_tags(record, regrade_origin(record, name))


def log_regrade(result: RegradeResult, experiment: str | None = None) -> LoggedRegrade:
    """Log the regraded journal as a new MLflow run (through the same sink as `roibench log`,
    without traces: the trials made no new calls), tagged `roibench.regraded_from` with the
    original suite run (or the journal's path when that run is not found), and the changed
    trials as the artifact `regrade/differences.json`."""
    import tempfile

    import mlflow
    from mlflow.tracking import MlflowClient

    from roibench.journal.store import iter_trials
    from roibench.sinks.mlflow.runs import bound_mlflow_retries, log_to_mlflow, tracking_reachable

    bound_mlflow_retries()
    problem = tracking_reachable(mlflow.get_tracking_uri())
    if problem is not None:  # before any search
        return LoggedRegrade(None, result.record.from_run or result.record.from_journal, problem)
    origin = regrade_origin(result.record, experiment or result.spec.suite.name)
    logged = log_to_mlflow(
        result.spec, iter_trials(result.journal), result.regraded, result.journal, experiment,
        trace_sample=0.0, extra_tags=regrade_tags(result.record, origin, len(result.changes)),
    )  # fmt: skip
    if logged.run_id is None:
        return LoggedRegrade(None, origin, logged.error)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "differences.json"
        path.write_text(differences_json(result), encoding="utf-8")
        MlflowClient().log_artifact(logged.run_id, str(path), "regrade")
    return LoggedRegrade(logged.run_id, origin)
