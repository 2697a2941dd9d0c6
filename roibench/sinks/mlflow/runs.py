"""MLflow as a sink: one parent run per suite invocation, a nested child run per cell, written
in batches after the cell's trials are done (never per call)."""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import mlflow
from mlflow.entities import DatasetInput, Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from roibench import __version__
from roibench.core.errors import InputError
from roibench.core.records import TrialRecord
from roibench.core.secrets import redact
from roibench.journal.spec import CellSpec, RunSpec
from roibench.results.summary import CellSummary
from roibench.sinks.mlflow.names import cell_run_name
from roibench.sinks.mlflow.trace_stream import MlflowOutcome, StreamedTraces
from roibench.sinks.mlflow.traces import default_trace_sample, trace_fields

if TYPE_CHECKING:
    from roibench.sinks.plots import CellPoint

MAX_PARAM = 500  # MLflow's param value limit is 6000 chars; keep params short and readable


TRACE_SAMPLE_ENV = "ROIBENCH_TRACE_SAMPLE"


def trace_sample_from_env(total_trials: int = 0) -> float:
    """The trace sampling fraction from $ROIBENCH_TRACE_SAMPLE, else the default."""
    raw = os.environ.get(TRACE_SAMPLE_ENV, "").strip()
    if not raw:
        return default_trace_sample(total_trials)
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"${TRACE_SAMPLE_ENV} must be a number in [0, 1], got {raw!r}") from None
    if not 0 <= value <= 1:
        raise InputError(f"${TRACE_SAMPLE_ENV} must be in [0, 1], got {value}")
    return value


def cell_params(cell: CellSpec, spec: RunSpec) -> dict[str, str]:
    """The child run's params, from the run's spec. Never a secret: only names, ids, prices
    and hashes."""
    value = cell.workflow.value_model
    pricing = spec.outcome_pricing
    card = cell.price.pricer() if cell.price is not None else None
    params = {
        "workflow": cell.workflow.name,
        "agent": cell.agent.name,
        "provider": cell.model.provider.name,
        "model": cell.model.name,
        "model_id": cell.model.model_id,
        "trials": str(spec.trials),
        "tasks": str(len(cell.workflow.tasks)),
        "seed": str(spec.seed),
        "dataset": Path(cell.workflow.dataset).name,
        "dataset_hash": cell.workflow.dataset_short_hash,
        "workflow_code_hash": (cell.workflow.code_sha256 or "none")[:12],
        "policy_hash": cell.workflow.policy_sha256[:12],
        "max_steps": str(cell.agent.ref.max_steps),
        **(
            card.params()
            if card
            else {"price_card": "UNPRICED", "price_currency": "none", "price_source": "none"}
        ),
        # the assumption behind recording a timed-out attempt at $0
        "timeout_billing": cell.model.provider.timeout_billing.value,
        "outcome_scheme": pricing.scheme,
        "outcome_price_usd": str(pricing.price_usd),
        "outcome_bill_escalations": str(pricing.bill_escalations),
        "outcome_refund_harmful": str(pricing.refund_harmful),
        "value_human_cost_usd": str(value.human_cost_per_task_usd),
        "value_escalation_cost_usd": str(value.escalation_usd),
        "value_rework_cost_usd": str(value.rework_cost_usd),
        "value_source": value.source,
    }
    if cell.model.local is not None:  # a real GGUF served by roibench: which file, by digest
        params.update(cell.model.local.params())
    return {k: v[:MAX_PARAM] for k, v in params.items()}


def trial_row(t: TrialRecord) -> dict[str, Any]:
    """A trial's row of the trials table."""
    return {
        "task_id": t.task_id,
        "tier": t.tier,
        "trial": t.trial,
        "status": t.outcome.status.value,
        "reason": t.outcome.reason,
        "loss_usd": float(t.outcome.loss_usd),
        "error_class": t.error_class or "",
        "cost_usd": None if t.cost_usd is None else float(t.cost_usd),
        "input_tokens": t.usage.input_tokens,
        "cached_input_tokens": t.usage.cache_read_tokens,
        "output_tokens": t.usage.output_tokens,
        "requests": t.usage.requests,
        "steps": t.steps,
        "tool_calls": t.tool_calls,
        "duration_s": round(t.duration_s, 4),
        "seed": t.seed,
    }


def call_rows(t: TrialRecord) -> list[dict[str, Any]]:
    """A trial's rows of the calls table: one per LLM request, retries included."""
    return [
        {
            "task_id": t.task_id,
            "trial": t.trial,
            "call": i,
            "role": c.role,
            "attempt": c.attempt,
            "started_at": c.started_at.isoformat(),
            "latency_s": round(c.latency_s, 4),
            "input_tokens": c.usage.input_tokens,
            "cached_input_tokens": c.usage.cache_read_tokens,
            "cache_write_tokens": c.usage.cache_write_tokens,
            "output_tokens": c.usage.output_tokens,
            "reasoning_tokens": c.usage.reasoning_tokens,
            "cost_usd": None if c.cost_usd is None else float(c.cost_usd),
            "finish_reason": c.finish_reason or "",
            "error": c.error or "",
        }
        for i, c in enumerate(t.calls)
    ]


@dataclass
class CellTables:
    """What a cell's child run logs besides its metrics, gathered in one pass over the trials:
    the trials and calls tables, and the sampled trials whose traces are still to write."""

    trial_rows: list[dict[str, Any]] = field(default_factory=list)
    call_rows: list[dict[str, Any]] = field(default_factory=list)
    traced: int = 0
    """Trials sampled for a trace (streamed during the run or not)."""
    to_trace: list[TrialRecord] = field(default_factory=list)
    """Sampled trials not traced during the run."""
    start_ms: int | None = None
    """When the cell's first trial started (epoch ms): the child run's start time."""
    end_ms: int | None = None
    """When its last trial ended: the child run's end time."""

    def span(self, t: TrialRecord) -> None:
        """Widen the cell's time span to cover trial `t`."""
        start = int(t.started_at.timestamp() * 1000)
        end = start + int(t.duration_s * 1000)
        self.start_ms = start if self.start_ms is None else min(self.start_ms, start)
        self.end_ms = end if self.end_ms is None else max(self.end_ms, end)


def gather_tables(
    spec: RunSpec,
    trials: Iterable[TrialRecord],
    trace_sample: float,
    streamed: StreamedTraces | None = None,
) -> dict[str, CellTables]:
    """Read the trials once (a journal streams them) into each cell's tables; only the
    trials that still need a trace are kept whole."""
    from roibench.sinks.mlflow.traces import trace_sampled

    tables = {c.label: CellTables() for c in spec.cells}
    for t in trials:
        table = tables.get(t.cell)
        if table is None:
            continue
        table.trial_rows.append(trial_row(t))
        table.span(t)
        table.call_rows.extend(call_rows(t))
        if trace_sampled(spec.seed, t.task_id, t.trial, trace_sample):
            table.traced += 1
            done = streamed.keys.get(t.cell, set()) if streamed else set()
            if (t.task_id, t.trial) not in done:  # not streamed (or streaming failed)
                table.to_trace.append(t)
    return tables


def dataset_frame(cell: CellSpec) -> Any:
    """The cell's tasks as the run recorded them (id and tier, in run order); the tasks
    themselves are in the dataset file, the input's source, checked by its digest."""
    import pandas as pd

    return pd.DataFrame([{"id": t.id, "tier": t.tier} for t in cell.workflow.tasks])


def experiment_id_for(client: MlflowClient, name: str) -> str:
    """The id of the experiment called `name`, created if there is none. Two runs starting
    at once may both try to create it: the one that loses finds the winner's."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


_DATASET_INPUTS: dict[tuple[object, ...], list[DatasetInput]] = {}


def dataset_inputs(cell: CellSpec) -> list[DatasetInput]:
    """The cell's dataset as MLflow run inputs, named after the file, digest = its hash; built
    once per dataset and task list in a process (~40 ms each: the MLflow helper builds them
    while the trials run, not after)."""
    wf = cell.workflow
    key = (wf.name, wf.dataset, wf.dataset_sha256, tuple((t.id, t.tier) for t in wf.tasks))
    if key not in _DATASET_INPUTS:
        _DATASET_INPUTS[key] = _new_dataset_inputs(cell)
    return _DATASET_INPUTS[key]


def _new_dataset_inputs(cell: CellSpec) -> list[DatasetInput]:
    import mlflow.data
    from mlflow.entities import InputTag

    with warnings.catch_warnings():  # MLflow registers two local sources for plain paths
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
            dataset_frame(cell),
            source=cell.workflow.dataset,
            name=f"{cell.workflow.name}:{Path(cell.workflow.dataset).name}",
            digest=cell.workflow.dataset_short_hash,
        )
    return [
        DatasetInput(
            dataset._to_mlflow_entity(),
            tags=[
                InputTag("mlflow.data.context", "eval"),
                InputTag("roibench.sha256", cell.workflow.dataset_sha256),
            ],
        )
    ]


def log_dataset_input(client: MlflowClient, run_id: str, cell: CellSpec) -> None:
    """Log the cell's dataset as a run input (`dataset_inputs`).

    MLflow's store looks the dataset up and inserts it if missing, not atomically: two runs
    logging the same dataset to one experiment at once (two suites finishing together) can
    both miss it, and the second insert fails on the unique key (BAD_REQUEST, not retried by
    MLflow's client). Once that happened the row exists, so one more request reuses it."""
    from mlflow.exceptions import MlflowException

    inputs = dataset_inputs(cell)
    try:
        client.log_inputs(run_id, inputs)
    except MlflowException:
        client.log_inputs(run_id, inputs)  # a real error raises again


def log_tables(client: MlflowClient, run_id: str, tables: dict[str, list[dict[str, Any]]]) -> None:
    """Log rows as table artifacts of a run that has none yet, as `mlflow.log_table` does —
    the same JSON (pandas' split orient) and the same `mlflow.loggedArtifacts` tag — in one
    upload and one tag for all of them. `log_table` besides looks at every value of every
    text column for images and reads the run back, per table (~45 ms for 1,000 rows here;
    more with the rows)."""
    import pandas as pd
    from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS  # how the UI finds tables

    with tempfile.TemporaryDirectory() as tmp:
        for name, rows in tables.items():
            pd.DataFrame(rows).to_json(
                Path(tmp) / name, orient="split", index=False, date_format="iso"
            )
        client.log_artifacts(run_id, tmp)
    client.set_tag(
        run_id, MLFLOW_LOGGED_ARTIFACTS, json.dumps([{"path": n, "type": "table"} for n in tables])
    )


def plot_cells(spec: RunSpec, summaries: dict[str, CellSummary]) -> list[CellPoint]:
    """What the suite's plots are drawn from, one point per cell in the spec's order."""
    from roibench.sinks.plots import CellPoint

    return [
        CellPoint(
            label=c.label,
            metrics=summaries[c.label].metrics,
            economics=summaries[c.label].economics,
        )
        for c in spec.cells
    ]


def log_plots(
    client: MlflowClient,
    run_id: str,
    spec: RunSpec,
    summaries: dict[str, CellSummary],
    images: dict[str, bytes] | None = None,
) -> list[str]:
    """The suite's plots as PNG artifacts under `plots/` of the parent run (`images`: drawn
    elsewhere already, by artifact name; else drawn here)."""
    from roibench.sinks.plots import suite_plots

    if images is None:
        images = suite_plots(plot_cells(spec, summaries), spec.outcome_pricing)
    with tempfile.TemporaryDirectory() as tmp:
        for name, png in images.items():
            (Path(tmp) / name).write_bytes(png)
        client.log_artifacts(run_id, tmp, "plots")
    return sorted(images)


def log_suite_run(
    spec: RunSpec,
    trials: Iterable[TrialRecord],
    summaries: dict[str, CellSummary],
    journal_path: Path | None,
    run_name: str,
    experiment_name: str | None = None,
    *,
    trace_sample: float | None = None,
    trace_method: str = "auto",
    streamed: StreamedTraces | None = None,
    extra_tags: dict[str, str] | None = None,
    run_key: str | None = None,
    tables: dict[str, CellTables] | None = None,
    plot_images: Callable[[], dict[str, bytes] | None] | None = None,
    fresh_journal: bool = False,
) -> str:
    """Log the parent and child runs; return the parent run id. `trials`: every trial of the
    run, iterated once (e.g. `journal.iter_trials`, so a long run is never held in memory).

    `trace_sample`: fraction of trials that get a trace (1 = every trial, 0 = none); the same
    (task, trial) pairs in every cell. None reads $ROIBENCH_TRACE_SAMPLE, else traces every
    trial up to DEFAULT_MAX_TRACES. `trace_method`: see `tracing.log_trial_traces`.
    `streamed`: traces written during the run (by the MLflow helper): linked, not written
    again. `tables`: the cells' tables already gathered from the trials (the helper builds
    them while the trials run); then `trials` is not read. `plot_images`: the plots drawn
    elsewhere while the runs and tables are logged, asked for when they are logged (None from
    it: drawn here). `fresh_journal`: the journal was started by the process logging it now
    (its run key is new: no earlier logging to clear).
    """
    if trace_sample is None:
        total = sum(s.economics.counts.total for s in summaries.values())
        trace_sample = trace_sample_from_env(total)
    from roibench.sinks.mlflow.traces import link_traces

    written = streamed
    if tables is None:
        tables = gather_tables(spec, trials, trace_sample, written)
    tables = dict(tables)  # each cell's entry is dropped once logged

    client = MlflowClient()
    name = experiment_name or spec.suite.name
    experiment_id = experiment_id_for(client, name)
    # a trial handed to this process's trace helper is traced by it (still writing, maybe)
    live = (
        {(cell, *key) for cell, keys in written.keys.items() for key in keys} if written else set()
    )
    run_key = run_key or spec.run_key
    if not fresh_journal:
        clear_previous_logging(client, experiment_id, run_key, keep=live)
    common_tags = {
        "roibench.run_key": run_key,
        "roibench.simulated": str(spec.simulated).lower(),
        "roibench.version": spec.roibench_version,
        "roibench.suite": spec.suite.name,
        **(extra_tags or {}),
    }
    if spec.roibench_version != __version__:
        common_tags["roibench.logged_by_version"] = __version__
    if spec.git_commit:
        common_tags["roibench.git_commit"] = spec.git_commit
    now = int(time.time() * 1000)
    # the runs' times are the trials' own, not when this logging happens (`roibench log` may
    # run days later); a cell without trials gets the logging time
    starts = [t.start_ms for t in tables.values() if t.start_ms is not None]
    ends = {label: t.end_ms or now for label, t in tables.items()}
    parent_tags = {**common_tags, "roibench.role": "suite"}
    if spec.suite.description:
        parent_tags["mlflow.note.content"] = spec.suite.description  # the run's description
    parent = client.create_run(
        experiment_id, run_name=run_name, tags=parent_tags, start_time=min(starts, default=now)
    )
    pid = parent.info.run_id
    try:
        client.log_batch(
            pid,
            params=[
                Param("suite", spec.suite.name),
                Param("suite_file", Path(spec.suite.file).name),
                Param("suite_hash", spec.suite.sha256[:12]),
                Param("trials", str(spec.trials)),
                Param("seed", str(spec.seed)),
                Param("concurrency", str(spec.options.concurrency)),
                Param("cells", str(len(spec.cells))),
                Param("outcome_scheme", spec.outcome_pricing.scheme),
                Param("outcome_price_usd", str(spec.outcome_pricing.price_usd)),
                Param("trace_sample", str(trace_sample)),
                Param("schema_version", str(spec.schema_version)),
            ],
        )
        with tempfile.TemporaryDirectory() as tmp:
            suite_copy = Path(tmp) / Path(spec.suite.file).name
            suite_copy.write_text(redact(spec.suite.text), encoding="utf-8")
            client.log_artifact(pid, str(suite_copy), "suite")
        if journal_path is not None and journal_path.exists():
            client.log_artifact(pid, str(journal_path), "journal")
        cell_runs: dict[str, str] = {}
        for cell in spec.cells:
            summary = summaries[cell.label]
            table = tables.pop(cell.label)  # dropped once logged
            tags = {
                **common_tags,
                "mlflow.parentRunId": pid,
                "roibench.role": "cell",
                "roibench.cell": cell.label,
                "roibench.priced": str(summary.economics.priced).lower(),
            }
            child = client.create_run(
                experiment_id,
                run_name=cell_run_name(cell.workflow.name, cell.agent.name, cell.model.name),
                tags=tags,
                start_time=table.start_ms or now,
            )
            cid = child.info.run_id
            client.log_batch(
                cid,
                params=[Param(k, v) for k, v in cell_params(cell, spec).items()],
                metrics=[Metric(k, v, now, 0) for k, v in summary.metrics.items()],
                tags=[RunTag("roibench.notes", "; ".join(summary.economics.notes))]
                if summary.economics.notes
                else [],
            )
            log_dataset_input(client, cid, cell)
            log_tables(
                client, cid, {"trials.json": table.trial_rows, "calls.json": table.call_rows}
            )
            if table.to_trace:
                write_cell_traces(
                    client, spec, cell, experiment_id, cid, table.to_trace, trace_method
                )
            if written and written.ids.get(cell.label):
                link_traces(client, written.ids[cell.label], cid)
            client.log_metric(cid, "traces", float(table.traced), now, 0)
            cell_runs[cell.label] = cid
            client.set_terminated(cid, "FINISHED", end_time=ends[cell.label])
        log_plots(client, pid, spec, summaries, plot_images() if plot_images else None)
        client.set_terminated(pid, "FINISHED", end_time=max(ends.values(), default=now))
    except BaseException:
        client.set_terminated(pid, "FAILED")
        raise
    return pid


def clear_previous_logging(
    client: MlflowClient,
    experiment_id: str,
    run_key: str,
    keep: set[tuple[str, str, int]] | None = None,
) -> int:
    """Delete what an earlier logging of the same journal left — its parent and cell runs,
    finished, failed or left RUNNING by a kill, and its traces — except the traces of the
    trials in `keep` (cell, task, trial: those this process's trace helper writes). Returns
    the runs deleted. So one journal is one parent run with one trace per traced trial,
    however often it is logged, resumed or interrupted."""
    keep = keep or set()
    from mlflow.entities import ViewType

    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`roibench.run_key` = '{run_key}'",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=10_000,
    )
    for run in runs:
        client.delete_run(run.info.run_id)
    stale: list[str] = []
    token: str | None = None
    while True:
        page = client.search_traces(
            locations=[experiment_id],
            filter_string=f"tag.`roibench.run_key` = '{run_key}'",
            max_results=500,
            page_token=token,
            include_spans=False,
        )
        for trace in page:
            tags = trace.info.tags
            key = (
                tags.get("roibench.cell", ""),
                tags.get("roibench.task_id", ""),
                int(tags.get("roibench.trial", "-1")),
            )
            if key not in keep:
                stale.append(trace.info.trace_id)
        token = page.token
        if not token:
            break
    for i in range(0, len(stale), 100):
        client.delete_traces(experiment_id, trace_ids=stale[i : i + 100])
    return len(runs)


def write_cell_traces(
    client: MlflowClient,
    spec: RunSpec,
    cell: CellSpec,
    experiment_id: str,
    run_id: str,
    trials: list[TrialRecord],
    trace_method: str = "auto",
) -> None:
    """Write a trace for each of a cell's `trials`, linked to the cell's run."""
    from roibench.sinks.mlflow.traces import TraceContext, log_trial_traces

    ctx = TraceContext(
        experiment_id=experiment_id, run_id=run_id, cell=cell.label, **trace_fields(cell, spec)
    )
    log_trial_traces(trials, ctx, client, method=trace_method)


def summary_json(summaries: dict[str, CellSummary]) -> str:
    """All cells' metrics as JSON (for `--json` output and tests)."""
    return json.dumps(
        {label: s.metrics for label, s in summaries.items()}, indent=2, sort_keys=True
    )


def tracking_reachable(uri: str, timeout_s: float = 3.0) -> str | None:
    """None if an HTTP tracking server answers its health check, else why not. Local stores
    (sqlite, files) are always reachable."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        httpx.get(uri.rstrip("/") + "/health", timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} connecting to {uri}"
    return None


def log_to_mlflow(
    spec: RunSpec,
    trials: Iterable[TrialRecord],
    summaries: dict[str, CellSummary],
    journal_path: Path,
    experiment: str | None,
    *,
    trace_sample: float | None = None,
    streamed: StreamedTraces | None = None,
    extra_tags: dict[str, str] | None = None,
) -> MlflowOutcome:
    """Log the run (`trials`: every trial, read once — e.g. streamed from the journal) and
    record its parent run id in the journal. On an unreachable or failing tracking server,
    say so within MLflow's bounded retries instead of raising: the journal already holds
    everything, and `roibench log JOURNAL` completes the logging later without duplicates."""
    bound_mlflow_retries()
    uri = mlflow.get_tracking_uri()
    problem = tracking_reachable(uri)
    try:
        if problem is not None:
            return MlflowOutcome(None, uri, unreachable_message(problem, journal_path))
        run_id = log_suite_run(
            spec, trials, summaries, journal_path, spec.run_name, experiment,
            trace_sample=trace_sample, streamed=streamed, extra_tags=extra_tags,
        )  # fmt: skip
    except Exception as exc:  # the run's results are safe in the journal whatever happens here
        return MlflowOutcome(None, uri, logging_failure(exc, uri, journal_path))
    if extra_tags is None or "roibench.reprice" not in extra_tags:
        from roibench.journal.store import Journal

        journal = Journal(journal_path)
        try:
            journal.append_logged(run_id, redact(uri))
        finally:
            journal.close()
    return MlflowOutcome(run_id, uri)


def _log_later(journal_path: Path) -> str:
    return f"the journal is complete; run `roibench log {journal_path}`"


def unreachable_message(problem: str, journal_path: Path) -> str:
    """What the user is told when the tracking server cannot be reached."""
    return f"tracking server unreachable ({problem}); {_log_later(journal_path)}"


def logging_failure(exc: BaseException, uri: str, journal_path: Path) -> str:
    """What the user is told when logging failed (masked; names an unreachable server)."""
    what = redact(f"{type(exc).__name__}: {exc}")[:300]
    if tracking_reachable(uri) is not None:
        what = f"tracking server unreachable ({what})"
    return f"{what}; {_log_later(journal_path)}"


MLFLOW_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "8",
}
"""MLflow's own defaults retry a dead tracking server for minutes (7 retries, backoff factor
2, 120 s timeouts: ~505 s measured). These bound a failing request to ~30 s (3 attempts of at
most 8 s, 1-2 s apart); a variable the user set wins."""


def bound_mlflow_retries() -> None:
    """Apply MLFLOW_RETRY_DEFAULTS where the environment sets nothing (before MLflow's first
    request, and inherited by the trace helper process)."""
    for name, value in MLFLOW_RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)
