"""Many new traces written to MLflow's SQL tracking store in a few statements.

MLflow's `log_spans` creates each trace in ORM round trips of its own (a flush per trace, a
merge per tag, an update per trace): about 4 ms of CPU per trace on SQLite for a one-span
trace and 8 ms for a minimal roibench trial's (four spans, three tags) — more than the trial
itself costs. For traces that are new (roibench's always are: fresh random ids), the rows it
ends up writing are one `trace_info` row, the trace's tags and a row per span. This writes
exactly those rows, for a whole batch of traces, with one multi-row INSERT per table in one
transaction, computing every value with MLflow's own helpers (span translation, token and cost
aggregation, previews, tag and name validation).

`tests/sinks/test_bulk_traces.py` writes the same traces both ways and compares every row of
every table. Where that cannot hold the store's own `log_spans` is used instead: a store that
is not MLflow's SQL store, trace rollups switched on, a table whose columns differ from those
known here, a helper MLflow renamed, or spans carrying session or user ids (roibench sets
none). `writer_for` returns None then.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities import Span
    from mlflow.tracking import MlflowClient

TRACE_INFO_COLUMNS = frozenset({
    "request_id", "experiment_id", "timestamp_ms", "execution_time_ms", "status",
    "client_request_id", "request_preview", "response_preview", "db_payload_generation",
    "trace_name", "session_id", "input_tokens", "output_tokens", "total_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr", "input_cost", "output_cost", "total_cost",
})  # fmt: skip
"""The columns of `trace_info` this writer fills (MLflow 3.17's schema)."""
TRACE_TAG_COLUMNS = frozenset({"request_id", "key", "value"})
SPAN_COLUMNS = frozenset({
    "trace_id", "experiment_id", "span_id", "parent_span_id", "name", "type", "status",
    "start_time_unix_nano", "end_time_unix_nano", "content", "input_cost", "output_cost",
    "total_cost", "model_name", "model_provider",
})  # fmt: skip
"""The columns of `spans` this writer fills; `duration_ns` is computed by the database."""


class BulkTraceWriter:
    """Writes batches of new traces straight into an MLflow SQL store's tables."""

    def __init__(self, store: Any, m: Any) -> None:
        self.store = store
        self.m = m  # mlflow.store.tracking.sqlalchemy_store: its helpers and table models
        self._experiments: dict[str, Any] = {}

    def _experiment(self, experiment_id: str) -> Any:
        if experiment_id not in self._experiments:
            self._experiments[experiment_id] = self.store.get_experiment(experiment_id)
        return self._experiments[experiment_id]

    def rows(
        self, experiment_id: str, traces: Sequence[Sequence[Span]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] | None:
        """(trace_info, trace_tags, spans) rows for new traces, each given as its spans —
        the values `log_spans` would store — or None where it would do more than this can."""
        m = self.m
        key = m.SpanAttributeKey
        experiment = self._experiment(experiment_id)
        # as log_spans: MSSQL's content column is not Unicode, every other keeps the text
        ascii_only = self.store.db_type == m.MSSQL
        encoder = m.TraceJSONEncoder
        infos: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        span_rows: list[dict[str, Any]] = []
        for spans in traces:
            trace_id = spans[0].trace_id
            min_start_ms = min(s.start_time_ns for s in spans) // 1_000_000
            end_times = [s.end_time_ns for s in spans if s.end_time_ns is not None]
            max_end_ms = max(end_times) // 1_000_000 if end_times else None
            status = self.store._get_trace_status_from_root_span(spans)
            usage_nodes, cost_nodes = [], []
            root_dict: dict[str, Any] | None = None
            trace_tags: dict[str, str] = {}
            for span in spans:
                span_dict = m.translate_span_when_storing(span)
                attrs = span_dict.get("attributes", {})
                if any(
                    attrs.get(k)
                    for k in (key.SESSION_ID, m.GenAiSemconvKey.CONVERSATION_ID, "user.id")
                ):
                    return None  # sessions and users take lookups of their own
                usage_nodes.append(
                    m._span_aggregation_node(span.span_id, span.parent_id, attrs, key.CHAT_USAGE)
                )
                cost_nodes.append(
                    m._span_aggregation_node(span.span_id, span.parent_id, attrs, key.LLM_COST)
                )
                cost_text = attrs.get(key.LLM_COST)
                costs: dict[str, Any] = {}
                if cost_text:
                    try:
                        costs = json.loads(cost_text)
                    except (TypeError, ValueError):
                        costs = {}
                span_rows.append({
                    "trace_id": trace_id,
                    "experiment_id": int(experiment_id),
                    "span_id": span.span_id,
                    "parent_span_id": span.parent_id,
                    "name": span.name,
                    "type": span.span_type,
                    "status": span.status.status_code,
                    "start_time_unix_nano": span.start_time_ns,
                    "end_time_unix_nano": span.end_time_ns,
                    "content": json.dumps(span_dict, cls=encoder, ensure_ascii=ascii_only),
                    "input_cost": m.finite_float_or_none(costs.get("input_cost")),
                    "output_cost": m.finite_float_or_none(costs.get("output_cost")),
                    "total_cost": m.finite_float_or_none(costs.get("total_cost")),
                    "model_name": m.bounded_model_dimension(
                        m._try_parse_json_string(attrs.get(key.MODEL))
                    ),
                    "model_provider": m.bounded_model_dimension(
                        m._try_parse_json_string(attrs.get(key.MODEL_PROVIDER))
                    ),
                })  # fmt: skip
                if span.parent_id is None:
                    root_dict = span_dict
                    for attr, value in attrs.items():
                        if attr.startswith(key.TRACE_TAG_PREFIX):
                            tag_key = attr[len(key.TRACE_TAG_PREFIX) :]
                            tag_value = str(m._try_parse_json_string(value))
                            try:
                                tag_key, tag_value = m._validate_trace_tag(tag_key, tag_value)
                            except Exception:
                                continue  # skipped, as log_spans skips it
                            if tag_key == m.TraceTagKey.TRACE_NAME:
                                tag_value = m.validate_trace_name(tag_value)
                            trace_tags[tag_key] = tag_value
            info: dict[str, Any] = dict.fromkeys(TRACE_INFO_COLUMNS)
            info.update(
                request_id=trace_id,
                experiment_id=int(experiment_id),
                timestamp_ms=min_start_ms,
                execution_time_ms=None if max_end_ms is None else max_end_ms - min_start_ms,
                status=status or m.TraceState.IN_PROGRESS.value,
                db_payload_generation=1,  # created at 0, advanced once by the span write
            )
            if root_dict is not None:

                class _Fresh:  # a trace_info without previews yet
                    request_preview = None
                    response_preview = None

                for column, value in self.store._update_trace_info_attributes(
                    _Fresh, root_dict
                ).items():
                    info[column.key] = value
            if m.TraceTagKey.TRACE_NAME in trace_tags:
                info["trace_name"] = trace_tags[m.TraceTagKey.TRACE_NAME]
            usage = m.aggregate_usage_from_span_nodes(usage_nodes) or {}
            for name, column in m.TOKEN_COLUMN_BY_KEY.items():
                info[column] = m.token_count_or_none(usage.get(name))
            cost = m.aggregate_cost_from_span_nodes(cost_nodes) or {}
            for name, column in m.COST_COLUMN_BY_KEY.items():
                info[column] = m.finite_float_or_none(cost.get(name))
            infos.append(info)
            location = self.store._get_trace_artifact_location_tag(experiment, trace_id)
            tags.append({"request_id": trace_id, "key": location.key, "value": location.value})
            tags.append({
                "request_id": trace_id,
                "key": m.TraceTagKey.SPANS_LOCATION,
                "value": m.SpansLocation.TRACKING_STORE.value,
            })  # fmt: skip
            tags.extend(
                {"request_id": trace_id, "key": k, "value": v}
                for k, v in trace_tags.items()
                if k != m.TraceTagKey.TRACE_NAME
            )
        return infos, tags, span_rows

    def write(self, experiment_id: str, traces: Sequence[Sequence[Span]]) -> bool:
        """Write the traces in one transaction; False (nothing written) where this writer
        would not store what `log_spans` stores."""
        rows = self.rows(experiment_id, traces)
        if rows is None:
            return False
        infos, tags, spans = rows
        m = self.m
        with self.store.ManagedSessionMaker(read_only=False) as session:
            # executemany of one compiled INSERT per table (a multi-VALUES statement would
            # be compiled anew for every batch, which costs more than it saves)
            session.execute(m.SqlTraceInfo.__table__.insert(), infos)
            session.execute(m.SqlTraceTag.__table__.insert(), tags)
            session.execute(m.SqlSpan.__table__.insert(), spans)
        return True


def _columns(model: Any) -> frozenset[str]:
    return frozenset(c.name for c in model.__table__.columns if not c.computed)


_WRITERS: dict[int, BulkTraceWriter | None] = {}  # by store (MLflow keeps one per URI)


def writer_for(client: MlflowClient) -> BulkTraceWriter | None:
    """A bulk writer for the client's store, or None where `log_spans` must write."""
    try:
        store = client._tracking_client.store
    except Exception:
        return None
    if id(store) not in _WRITERS:
        _WRITERS[id(store)] = _new_writer(store)
    return _WRITERS[id(store)]


def _new_writer(store: Any) -> BulkTraceWriter | None:
    try:
        # MLflow's internals, on purpose (see the module docstring): typed as Any
        m: Any = importlib.import_module("mlflow.store.tracking.sqlalchemy_store")
        if not isinstance(store, m.SqlAlchemyStore) or m.rollups_enabled():
            return None
        if (
            _columns(m.SqlTraceInfo) != TRACE_INFO_COLUMNS
            or _columns(m.SqlTraceTag) != TRACE_TAG_COLUMNS
            or _columns(m.SqlSpan) != SPAN_COLUMNS
        ):
            return None
        for name in (
            "translate_span_when_storing", "_span_aggregation_node",
            "aggregate_usage_from_span_nodes", "aggregate_cost_from_span_nodes",
            "TraceJSONEncoder", "MSSQL", "bounded_model_dimension", "_try_parse_json_string",
            "finite_float_or_none", "token_count_or_none", "validate_trace_name",
            "_validate_trace_tag", "TOKEN_COLUMN_BY_KEY", "COST_COLUMN_BY_KEY",
            "SpanAttributeKey", "GenAiSemconvKey", "TraceTagKey", "TraceState", "SpansLocation",
        ):  # fmt: skip
            if not hasattr(m, name):
                return None
        for method in (
            "_get_trace_status_from_root_span", "_update_trace_info_attributes",
            "_get_trace_artifact_location_tag", "ManagedSessionMaker", "get_experiment",
        ):  # fmt: skip
            if not hasattr(store, method):
                return None
    except Exception:  # any surprise in MLflow's internals: its own API writes instead
        return None
    return BulkTraceWriter(store, m)
