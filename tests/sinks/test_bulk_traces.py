"""The bulk trace writer stores exactly what MLflow's own `log_spans` stores: the same traces
are written both ways into two copies of one store, and every row of every table is compared."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, ToolCallRecord, TrialRecord
from roibench.core.usage import Usage
from roibench.sinks.mlflow.traces import TraceContext, TracePlan, plan_trace, to_mlflow_spans

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def call(at: float, latency: float, **fields: Any) -> CallRecord:
    usage = fields.pop("usage", Usage(input_tokens=120, output_tokens=12, requests=1))
    return CallRecord.model_validate({
        "started_at": T0 + timedelta(seconds=at), "latency_s": latency, "usage": usage,
        "cost_usd": Decimal("0.0012"), "finish_reason": "tool_calls", **fields,
    })  # fmt: skip


def tool(name: str, at: float, *, ok: bool = True, result: str = '{"status": "ok"}') -> Any:
    return ToolCallRecord(
        name=name, args={"order_id": "A1", "note": "ümlaut ✓"}, result=result, ok=ok,
        started_at=T0 + timedelta(seconds=at), latency_s=0.002,
    )  # fmt: skip


def trial(task: str, outcome: Outcome, calls: list[CallRecord], tools: list[Any]) -> TrialRecord:
    return TrialRecord.model_validate({
        "cell": "w/a/m", "workflow": "w", "agent": "a", "model": "m", "task_id": task,
        "tier": "easy", "trial": 0, "seed": 1, "outcome": outcome, "calls": tuple(calls),
        "usage": sum((c.usage for c in calls), Usage()), "cost_usd": Decimal("0.0024"),
        "steps": 2, "tool_log": tuple(tools), "started_at": T0, "duration_s": 4.0,
        "reply": "Order A1 has shipped — 发货了.",
    })  # fmt: skip


def trials() -> list[TrialRecord]:
    """Trials that exercise what a trace can hold: steps and tools, a failed attempt and an
    unpriced call, cache and reasoning tokens, a user simulator's call, a failed tool, an error
    outcome (the root span fails), text beyond ASCII."""
    rich_usage = Usage(
        input_tokens=300, output_tokens=40, cache_read_tokens=256, reasoning_tokens=16, requests=1
    )
    return [
        trial("t1", Outcome.resolved(), [call(0, 0.5), call(1, 0.4, finish_reason="stop")],
              [tool("get_order", 0.6)]),
        trial("t2", Outcome.failed("reply does not state 'shipped'"),
              [call(0, 0.1, error="rate_limited", cost_usd=None, finish_reason=None),
               call(0.5, 0.5, usage=rich_usage, attempt=1), call(1.5, 0.3, cost_usd=None),
               call(2.0, 0.2, role="user_sim")],
              [tool("get_order", 1.1, ok=False, result="error: no order A1"), tool("note", 1.2)]),
        trial("t3", Outcome.error("LLMError: auth"), [call(0, 0.2, error="auth", cost_usd=None)],
              []),
    ]  # fmt: skip


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted."""
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr) for t in tables}
    finally:
        con.close()


def test_bulk_writes_the_rows_log_spans_writes(tmp_path: Path) -> None:
    from mlflow.tracing.client import TracingClient

    from roibench.sinks.mlflow.bulk_traces import writer_for

    template = tmp_path / "template.db"
    experiment = MlflowClient(f"sqlite:///{template}").create_experiment(
        "bulk", artifact_location=str(tmp_path / "artifacts")
    )
    ctx = TraceContext(experiment, "", "w/a/m", "model-x", "local", False)
    plans: list[TracePlan] = [plan_trace(t, ctx) for t in trials()]  # one set of ids for both
    a, b = tmp_path / "log_spans.db", tmp_path / "bulk.db"
    shutil.copy(template, a)
    shutil.copy(template, b)
    TracingClient(f"sqlite:///{a}").log_spans(
        experiment, [s for p in plans for s in to_mlflow_spans(p)]
    )
    writer = writer_for(MlflowClient(f"sqlite:///{b}"))
    assert writer is not None  # else this test would compare log_spans with itself
    assert writer.write(experiment, [to_mlflow_spans(p) for p in plans])
    by_mlflow, by_bulk = dump(a), dump(b)
    assert len(by_mlflow["trace_info"]) == 3 and len(by_mlflow["spans"]) == sum(
        len(p.spans) for p in plans
    )
    for table in by_mlflow:
        assert by_bulk[table] == by_mlflow[table], table
    # and MLflow reads the bulk-written traces back as its own
    client = MlflowClient(f"sqlite:///{b}")
    for plan in plans:
        got = client.get_trace(plan.mlflow_id)
        assert len(got.data.spans) == len(plan.spans)
        assert got.info.tags["roibench.status"] == plan.tags["roibench.status"]
    found = client.search_traces(
        locations=[experiment], filter_string="tags.`roibench.status` = 'failed'"
    )
    assert [t.info.trace_id for t in found] == [plans[1].mlflow_id]


def test_write_spans_uses_the_bulk_writer_and_links_like_before(tmp_path: Path) -> None:
    from roibench.sinks.mlflow.traces import link_traces, write_spans

    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    experiment = client.create_experiment("bulk")
    run = client.create_run(experiment).info.run_id
    ctx = TraceContext(experiment, run, "w/a/m", "model-x", "local", False)
    plans = [plan_trace(t, ctx) for t in trials()]
    write_spans(plans, experiment, client)
    link_traces(client, [p.mlflow_id for p in plans], run)
    linked = client.search_traces(locations=[experiment], run_id=run)
    assert sorted(t.info.trace_id for t in linked) == sorted(p.mlflow_id for p in plans)


@pytest.mark.parametrize("why", ["rollups", "file store"])
def test_stores_it_cannot_mirror_get_log_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    from roibench.sinks.mlflow.bulk_traces import writer_for

    if why == "rollups":  # MLflow then also queues rollup rebuilds, which this does not
        monkeypatch.setenv("MLFLOW_SQL_TRACE_ROLLUPS_ENABLED", "true")
        uri = f"sqlite:///{tmp_path / 'rollups.db'}"
    else:
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        uri = (tmp_path / "mlruns").as_uri()
    assert writer_for(MlflowClient(uri)) is None
