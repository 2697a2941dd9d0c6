"""One MLflow trace per trial, built after a cell's trials are done from their TrialRecords.

Nothing here runs on the hot path: the runner only records timestamps (CallRecord.started_at
and latency_s, ToolCallRecord.started_at and latency_s). Each trace is a tree

    <task> #k (AGENT)                        task, trial index, graded outcome, reply
    ├── step 1: chat <model> (CHAT_MODEL)    usage, cost, finish reason; a span per attempt
    ├── <tool> (TOOL)                        arguments and result, attribute roibench.step = 1
    └── step 2: chat <model> ...

The graded outcome is the root span's output and the trace's `roibench.status` tag. Agent steps
are numbered on the spans rather than nested under step spans, and there is no separate grading
span: every span costs the tracking store about a millisecond to index, so the tree stays as
flat as the timeline.

Spans carry explicit start and end times. The fast path sends the spans of many traces in a
few `log_spans` requests and links them to the cell's run with `link_traces_to_run` (100 per
request), instead of 5-10 requests per trace through the exporter; a store without span
logging (e.g. the file store) gets the same trees through `mlflow.start_span_no_context`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from roibench.core.records import CallRecord, MessageRecord, ToolCallRecord, TrialRecord
from roibench.core.secrets import redact

if TYPE_CHECKING:
    from mlflow.entities import Span
    from mlflow.tracking import MlflowClient

    from roibench.journal.spec import CellSpec, RunSpec

DEFAULT_MAX_TRACES = 2000
"""Without an explicit sample, every trial is traced up to this many per run; a larger run
traces this many (the same sample in every cell), so logging stays a small share of a long
run's wall time. `--trace-sample 1` traces everything."""


def default_trace_sample(total_trials: int) -> float:
    """The sampling fraction used when none is given."""
    return min(1.0, DEFAULT_MAX_TRACES / max(1, total_trials))


def trace_fields(cell: CellSpec, spec: RunSpec) -> dict[str, Any]:
    """What a cell's traces share, besides the experiment, the run and the cell's label (here,
    without MLflow: the run's process hands these to the MLflow helper)."""
    return {
        "model_id": cell.model.model_id,
        "provider": cell.model.provider.name,
        "simulated": spec.simulated,
        "run_key": spec.run_key,
    }


SPANS_PER_REQUEST = 2000
LINKS_PER_REQUEST = 100  # MLflow's limit for link_traces_to_run
_RNG = random.Random()  # private: a suite seeding the global RNG must not repeat trace ids
if hasattr(os, "register_at_fork"):  # a forked process (the trace helper) must not repeat its
    os.register_at_fork(after_in_child=_RNG.seed)  # parent's ids either: reseed from urandom


def trace_sampled(seed: int, task_id: str, trial: int, fraction: float) -> bool:
    """Whether trial `trial` of `task_id` is traced at sampling `fraction`. Decided by a hash of
    (seed, task, trial), so the same trials are traced in every cell and can be compared."""
    if fraction >= 1:
        return True
    if fraction <= 0:
        return False
    digest = hashlib.blake2b(f"trace:{seed}:{task_id}:{trial}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


@dataclass
class SpanPlan:
    """One span to write: ids, times (ns since the epoch), type, inputs, outputs, attributes."""

    name: str
    span_id: int
    parent_id: int | None
    start_ns: int
    end_ns: int
    span_type: str
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class TracePlan:
    """One trial's trace: its id, spans (parents before children), tags and metadata."""

    trace_id: int
    spans: list[SpanPlan]
    tags: dict[str, str]

    @property
    def mlflow_id(self) -> str:
        """The MLflow trace id, 'tr-<32 hex>'."""
        return f"tr-{self.trace_id:032x}"


@dataclass(frozen=True)
class TraceContext:
    """What every trace of a cell shares."""

    experiment_id: str
    run_id: str
    cell: str
    model_id: str
    provider: str
    simulated: bool
    run_key: str = ""
    """The journal's key (`RunSpec.run_key`): a re-log finds and replaces this run's traces."""


def _ns(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000_000)


def _span_id() -> int:
    return _RNG.getrandbits(64) or 1


def _usage(call: CallRecord) -> dict[str, int]:
    u = call.usage
    usage = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
    }
    if u.cache_read_tokens:
        usage["cache_read_input_tokens"] = u.cache_read_tokens
    if u.cache_write_tokens:
        usage["cache_creation_input_tokens"] = u.cache_write_tokens
    return usage


SPAN_MESSAGE_CHARS = 8000
"""A chat span carries the conversation up to its call, newest messages first, up to this
many characters of content (older ones are left out and counted); each message is already
bounded in the record (core.records.MAX_MESSAGE_CHARS)."""

CONVERSATION_ROLES = ("agent", "planner")
"""Roles whose successful calls' answers are the transcript's assistant messages (a
verifier's and a user simulator's are not in it)."""


def _full_usd(cost: Decimal | None) -> str:
    """A recorded cost in full, in plain notation ("0.00000012", never "1.2E-7")."""
    return "unpriced" if cost is None else format(cost, "f")


def _openai(m: MessageRecord) -> dict[str, Any]:
    message = m.as_message()
    message["content"] = redact(message["content"])
    for tc in message.get("tool_calls", ()):
        tc["function"]["arguments"] = redact(tc["function"]["arguments"])
    return message


def _history(messages: tuple[MessageRecord, ...], upto: int) -> list[dict[str, Any]]:
    """messages[:upto] as OpenAI messages, newest kept first within SPAN_MESSAGE_CHARS."""
    kept: list[dict[str, Any]] = []
    size = 0
    for m in reversed(messages[:upto]):
        size += len(m.content) + sum(len(tc.arguments) for tc in m.tool_calls)
        if kept and size > SPAN_MESSAGE_CHARS:
            break
        kept.append(_openai(m))
    left_out = upto - len(kept)
    if left_out:
        note = f"[{left_out} earlier message(s) left out of this span; see the trial record]"
        kept.append({"role": "system", "content": note})
    return kept[::-1]


def _conversation(trial: TrialRecord) -> dict[int, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """id(call) -> (messages it was sent, the assistant message it returned), for the calls
    whose answers are the transcript's assistant messages; empty when the record does not
    line up (a journal without messages, or a trial cut short by an error)."""
    answered = [
        c for c in trial.calls if c.role in CONVERSATION_ROLES and c.error is None
    ]  # fmt: skip
    turns = [i for i, m in enumerate(trial.messages) if m.role == "assistant"]
    if not turns or len(turns) != len(answered):
        return {}
    return {
        id(call): (_history(trial.messages, i), _openai(trial.messages[i]))
        for call, i in zip(answered, turns, strict=True)
    }


def _call_span(
    call: CallRecord,
    parent: int,
    ctx: TraceContext,
    step: int | None,
    turn: tuple[list[dict[str, Any]], dict[str, Any]] | None = None,
) -> SpanPlan:
    start = _ns(call.started_at)
    attributes: dict[str, Any] = {
        "mlflow.llm.model": ctx.model_id,
        "mlflow.llm.provider": ctx.provider,
        "mlflow.chat.tokenUsage": _usage(call),
        # roibench's own price; an unpriced call gets an empty cost, so MLflow does not
        # estimate one from its own price list (unpriced is reported, never guessed)
        "mlflow.llm.cost": {} if call.cost_usd is None else {"total_cost": float(call.cost_usd)},
        # MLflow shows that cost rounded to cents; this is the recorded figure in full
        "roibench.cost_usd": _full_usd(call.cost_usd),
    }
    if call.usage.reasoning_tokens:
        attributes["roibench.reasoning_tokens"] = call.usage.reasoning_tokens
    for extra in ("attempt", "cached", "usage_estimated"):
        value = getattr(call, extra, None)  # fields newer journals carry
        if value:
            attributes[f"roibench.{extra}"] = value
    if step is not None:
        attributes["roibench.step"] = step
        name = f"step {step}: chat {ctx.model_id}"
    else:
        name = f"{call.role}: chat {ctx.model_id}"
    inputs: dict[str, Any] = {"model": ctx.model_id, "provider": ctx.provider, "role": call.role}
    outputs: dict[str, Any] = {"finish_reason": call.finish_reason, "error": call.error}
    if turn is not None:  # OpenAI chat shapes: the trace UI shows them as a conversation
        sent, answer = turn
        inputs["messages"] = sent
        outputs["choices"] = [{"index": 0, "message": answer, "finish_reason": call.finish_reason}]
        attributes["mlflow.message.format"] = "openai"
    return SpanPlan(
        name=name,
        span_id=_span_id(),
        parent_id=parent,
        start_ns=start,
        end_ns=start + int(call.latency_s * 1_000_000_000),
        span_type="CHAT_MODEL",
        inputs=inputs,
        outputs=outputs,
        attributes=attributes,
        error=call.error,
    )


def _tool_span(tool: ToolCallRecord, parent: int, at_ns: int, step: int | None) -> SpanPlan:
    start = _ns(tool.started_at) if tool.started_at is not None else at_ns
    attributes: dict[str, Any] = {"roibench.ok": tool.ok}
    if step is not None:
        attributes["roibench.step"] = step
    return SpanPlan(
        name=tool.name,
        span_id=_span_id(),
        parent_id=parent,
        start_ns=start,
        end_ns=start + int((tool.latency_s or 0.0) * 1_000_000_000),
        span_type="TOOL",
        inputs=tool.args,
        outputs=_maybe_json(tool.result),
        attributes=attributes,
        error=None if tool.ok else tool.result[:200],
    )


def _maybe_json(text: str) -> Any:
    """A tool result as JSON when it is JSON (the trace UI renders it), else the text."""
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _steps(calls: Sequence[CallRecord]) -> list[list[CallRecord]]:
    """Agent calls grouped by turn: failed attempts belong to the turn that follows them."""
    steps: list[list[CallRecord]] = []
    pending: list[CallRecord] = []
    for call in calls:
        if call.role != "agent":
            continue
        pending.append(call)
        if call.error is None:
            steps.append(pending)
            pending = []
    if pending:
        steps.append(pending)
    return steps


def plan_trace(trial: TrialRecord, ctx: TraceContext) -> TracePlan:
    """The span tree of one trial."""
    trace_id = _RNG.getrandbits(128) or 1
    root_id = _span_id()
    start = _ns(trial.started_at)
    end = start + int(trial.duration_s * 1_000_000_000)
    outcome = trial.outcome
    status = outcome.status.value
    children: list[SpanPlan] = []
    timed = [t for t in trial.tool_log if t.started_at is not None]
    untimed = [t for t in trial.tool_log if t.started_at is None]
    steps = _steps(trial.calls)
    turns = _conversation(trial)
    for i, attempts in enumerate(steps):
        step = i + 1
        next_start = _ns(steps[i + 1][0].started_at) if i + 1 < len(steps) else None
        spans = [_call_span(c, root_id, ctx, step, turns.get(id(c))) for c in attempts]
        llm_end = max(s.end_ns for s in spans)
        # a tool call belongs to the turn whose model reply it followed
        mine = [
            t
            for t in timed
            if t.started_at is not None
            and llm_end - 1_000_000 <= _ns(t.started_at)
            and (next_start is None or _ns(t.started_at) < next_start)
        ]
        spans += [_tool_span(t, root_id, llm_end, step) for t in mine]
        timed = [t for t in timed if t not in mine]
        children.extend(spans)
    others = [c for c in trial.calls if c.role != "agent"]
    children += [_call_span(c, root_id, ctx, None, turns.get(id(c))) for c in others]
    children += [_tool_span(t, root_id, start, None) for t in [*timed, *untimed]]
    children.sort(key=lambda s: s.start_ns)
    outcome_dict = {
        "status": status,
        "reason": outcome.reason,
        "loss_usd": str(outcome.loss_usd),
        "error_class": trial.error_class,
    }
    end = max([end, *(s.end_ns for s in children)])
    tags = {  # few: each costs the store a write (filter on them in the UI's trace list)
        "mlflow.traceName": f"{trial.task_id} #{trial.trial}",
        "roibench.cell": ctx.cell,
        "roibench.task_id": trial.task_id,
        "roibench.status": status,
        "roibench.trial": str(trial.trial),
        # the trace list's cost column rounds to cents (most trials read $0.00): in full
        "roibench.cost_usd": _full_usd(trial.cost_usd),
    }
    if ctx.run_key:
        tags["roibench.run_key"] = ctx.run_key
    root = SpanPlan(
        name=f"{trial.task_id} #{trial.trial}",
        span_id=root_id,
        parent_id=None,
        start_ns=start,
        end_ns=end,
        span_type="AGENT",
        inputs={
            "task_id": trial.task_id,
            "tier": trial.tier,
            "trial": trial.trial,
            "seed": trial.seed,
            "cell": trial.cell,
        },
        outputs={**outcome_dict, "reply": trial.reply},
        attributes={
            "roibench.steps": trial.steps,
            "roibench.cost_usd": None if trial.cost_usd is None else _full_usd(trial.cost_usd),
            "roibench.simulated": ctx.simulated,
        },
        error=outcome.reason if status in ("error", "harness_error") else None,
    )
    return TracePlan(trace_id=trace_id, spans=[root, *children], tags=tags)


def _b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode("ascii")


def _dump(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def to_mlflow_spans(plan: TracePlan) -> list[Span]:
    """MLflow Span entities for a trace plan (the serialized trace format MLflow reads back)."""
    from mlflow.entities import Span

    trace_id = plan.mlflow_id
    spans = []
    for s in plan.spans:
        attributes = {
            "mlflow.traceRequestId": _dump(trace_id),
            "mlflow.spanType": _dump(s.span_type),
            "mlflow.spanInputs": _dump(s.inputs),
            "mlflow.spanOutputs": _dump(s.outputs),
            **{k: _dump(v) for k, v in s.attributes.items()},
        }
        if s.parent_id is None:  # trace tags travel as root-span attributes
            attributes.update({f"mlflow.traceTag.{k}": _dump(v) for k, v in plan.tags.items()})
        spans.append(
            Span.from_dict(
                {
                    "trace_id": _b64(plan.trace_id, 16),
                    "span_id": _b64(s.span_id, 8),
                    "parent_span_id": None if s.parent_id is None else _b64(s.parent_id, 8),
                    "name": s.name,
                    "start_time_unix_nano": s.start_ns,
                    "end_time_unix_nano": s.end_ns,
                    "events": [],
                    "status": {
                        "code": "STATUS_CODE_ERROR" if s.error else "STATUS_CODE_OK",
                        "message": s.error or "",
                    },
                    "attributes": attributes,
                }
            )
        )
    return spans


def _chunks(plans: Sequence[TracePlan], max_spans: int) -> Iterator[list[TracePlan]]:
    chunk: list[TracePlan] = []
    size = 0
    for plan in plans:
        if chunk and size + len(plan.spans) > max_spans:
            yield chunk
            chunk, size = [], 0
        chunk.append(plan)
        size += len(plan.spans)
    if chunk:
        yield chunk


def write_spans(plans: Sequence[TracePlan], experiment_id: str, client: MlflowClient) -> None:
    """Log the spans of many traces in a few requests (not yet linked to a run): straight
    into the tables of MLflow's SQL store where `bulk_traces` can, else through the store's
    `log_spans`."""
    from mlflow.tracing.client import TracingClient

    from roibench.sinks.mlflow.bulk_traces import writer_for

    writer = writer_for(client)
    tracing = TracingClient(client.tracking_uri)
    for chunk in _chunks(plans, SPANS_PER_REQUEST):
        traces = [to_mlflow_spans(p) for p in chunk]
        if writer is not None and writer.write(experiment_id, traces):
            continue
        tracing.log_spans(experiment_id, [s for spans in traces for s in spans])


def link_traces(client: MlflowClient, trace_ids: Sequence[str], run_id: str) -> None:
    """Link traces to a run, as many per request as MLflow allows."""
    for i in range(0, len(trace_ids), LINKS_PER_REQUEST):
        client.link_traces_to_run(list(trace_ids[i : i + LINKS_PER_REQUEST]), run_id)


def _write_batched(plans: Sequence[TracePlan], ctx: TraceContext, client: MlflowClient) -> None:
    write_spans(plans, ctx.experiment_id, client)
    link_traces(client, [p.mlflow_id for p in plans], ctx.run_id)


def _write_fluent(plans: Sequence[TracePlan], ctx: TraceContext) -> list[str]:
    """The same trees through MLflow's public span API (one trace per export, slower)."""
    import mlflow
    from mlflow.entities import SpanStatusCode

    ids = []
    for plan in plans:
        live: dict[int, Any] = {}
        root = plan.spans[0]
        for s in plan.spans:
            live[s.span_id] = mlflow.start_span_no_context(
                s.name,
                span_type=s.span_type,
                parent_span=None if s.parent_id is None else live[s.parent_id],
                inputs=s.inputs,
                attributes=s.attributes,
                tags=plan.tags if s is root else None,
                metadata={"mlflow.sourceRun": ctx.run_id} if s is root else None,
                experiment_id=ctx.experiment_id if s is root else None,
                start_time_ns=s.start_ns,
            )
        for s in reversed(plan.spans):  # children first, the root (which exports) last
            status = SpanStatusCode.ERROR if s.error else SpanStatusCode.OK
            live[s.span_id].end(outputs=s.outputs, status=status, end_time_ns=s.end_ns)
        ids.append(live[root.span_id].trace_id)
    mlflow.flush_trace_async_logging()
    return ids


def log_trial_traces(
    trials: Sequence[TrialRecord],
    ctx: TraceContext,
    client: MlflowClient,
    *,
    method: str = "auto",
) -> list[str]:
    """Write one trace per trial, linked to the cell's run; return the trace ids.

    `method`: 'batched' (few requests), 'fluent' (MLflow's span API), or 'auto' (batched,
    falling back to fluent when the store cannot log spans).
    """
    plans = [plan_trace(t, ctx) for t in trials]
    if not plans:
        return []
    if method == "fluent":
        return _write_fluent(plans, ctx)
    try:
        _write_batched(plans, ctx, client)
    except NotImplementedError:
        if method == "batched":
            raise
        return _write_fluent(plans, ctx)
    return [p.mlflow_id for p in plans]
