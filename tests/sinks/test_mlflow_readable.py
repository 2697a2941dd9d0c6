"""What people read in MLflow, on a real `mlflow server` holding suites the real CLI logged:
run times are the trials' own, the suite's description is the run's, chat spans carry their
conversation (bounded, redacted), and every trace states its cost in full. Plus unit tests of
the span bounds and redaction."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mlflow_server_fixture import REPO, FinishedRuns
from test_mlflow_sink import _children, _client, _journal, _traces

from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, MessageRecord, TrialRecord
from roibench.core.usage import Usage
from roibench.sinks.mlflow.traces import SPAN_MESSAGE_CHARS, TraceContext, plan_trace

T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def test_run_times_are_the_trials_own(finished_runs: FinishedRuns, tmp_path: Path) -> None:
    client = _client(finished_runs)
    trials = _journal(client, finished_runs.full, tmp_path)
    parent = client.get_run(finished_runs.full)

    def span(ts: list[TrialRecord]) -> tuple[int, int]:
        starts = [_ms(t.started_at) for t in ts]
        ends = [_ms(t.started_at) + int(t.duration_s * 1000) for t in ts]
        return min(starts), max(ends)

    assert (parent.info.start_time, parent.info.end_time) == span(trials)
    for label, child in _children(client, finished_runs, finished_runs.full).items():
        mine = [t for t in trials if t.cell == label]
        assert (child.info.start_time, child.info.end_time) == span(mine)


def test_suite_description_is_the_run_description(finished_runs: FinishedRuns) -> None:
    suite = tomllib.loads((REPO / "evals" / "quickstart.toml").read_text(encoding="utf-8"))
    parent = _client(finished_runs).get_run(finished_runs.full)
    assert parent.data.tags["mlflow.note.content"] == suite["description"]


def test_cell_runs_are_named_model_first(finished_runs: FinishedRuns) -> None:
    children = _children(_client(finished_runs), finished_runs, finished_runs.full)
    for label, child in children.items():
        workflow, agent, model = label.split("/", 2)
        assert child.info.run_name == f"{model} · {agent} · {workflow}"


def _chat(span: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return span.inputs["messages"], span.outputs["choices"][0]["message"]


def test_traces_carry_cost_in_full_and_chat_spans_their_messages(
    finished_runs: FinishedRuns, tmp_path: Path
) -> None:
    client = _client(finished_runs)
    trials = _journal(client, finished_runs.full, tmp_path)
    label = "refunds/react/sim/budget"
    child = _children(client, finished_runs, finished_runs.full)[label]
    mine = {(t.task_id, t.trial): t for t in trials if t.cell == label}
    traces = _traces(finished_runs, child.info.run_id)
    assert len(traces) == len(mine)
    for trace in traces:
        task_id, k = trace.info.tags["mlflow.traceName"].rsplit(" #", 1)
        trial = mine[(task_id, int(k))]
        assert trial.cost_usd is not None
        # in full: the recorded Decimal, not MLflow's cents (these trials cost < $0.01)
        assert Decimal(trace.info.tags["roibench.cost_usd"]) == trial.cost_usd
        assert trial.cost_usd < Decimal("0.01")
        chats = sorted(
            (s for s in trace.data.spans if s.span_type == "CHAT_MODEL"),
            key=lambda s: s.start_time_ns,
        )
        costs = [Decimal(s.get_attribute("roibench.cost_usd")) for s in chats]
        assert costs == [c.cost_usd for c in trial.calls]
        answered = [c for c in trial.calls if c.error is None]
        with_messages = [s for s in chats if "messages" in (s.inputs or {})]
        assert len(with_messages) == len(answered)  # every answered call: a conversation
        assistant = [m for m in trial.messages if m.role == "assistant"]
        for span, said in zip(with_messages, assistant, strict=True):
            _, answer = _chat(span)
            assert answer["content"] == said.content
            assert [tc["function"]["name"] for tc in answer.get("tool_calls", [])] == [
                tc.name for tc in said.tool_calls
            ]
            assert span.get_attribute("mlflow.message.format") == "openai"
        first_sent, _ = _chat(with_messages[0])
        assert [m["role"] for m in first_sent] == ["system", "user"]
        assert first_sent[1]["content"] == trial.messages[1].content


def _message_trial(messages: list[MessageRecord]) -> TrialRecord:
    turns = sum(m.role == "assistant" for m in messages)
    calls = tuple(
        CallRecord(
            started_at=T0 + timedelta(seconds=i),
            latency_s=0.5,
            usage=Usage(input_tokens=10, output_tokens=5, requests=1),
            cost_usd=Decimal("0.00000012"),
        )
        for i in range(turns)
    )
    return TrialRecord(
        cell="w/a/m", workflow="w", agent="a", model="m", task_id="t", tier="easy", trial=0,
        seed=1, outcome=Outcome.resolved(), calls=calls, usage=Usage(),
        cost_usd=Decimal("0.00000012") * turns, steps=turns, started_at=T0,
        duration_s=float(turns), messages=tuple(messages),
    )  # fmt: skip


CTX = TraceContext("0", "run", "w/a/m", "model-x", "sim", True)


def test_chat_spans_are_bounded() -> None:
    messages = [MessageRecord(role="system", content="policy"), MessageRecord(role="user",
                content="please")]  # fmt: skip
    for i in range(30):
        messages.append(MessageRecord(role="assistant", content=f"step {i} " + "x" * 900))
        messages.append(MessageRecord(role="user", content="go on " + "y" * 900))
    plan = plan_trace(_message_trial(messages), CTX)
    chats = [s for s in plan.spans if s.span_type == "CHAT_MODEL"]
    assert len(chats) == 30
    last = chats[-1].inputs["messages"]
    assert sum(len(m["content"]) for m in last[1:]) <= SPAN_MESSAGE_CHARS
    assert last[0]["role"] == "system" and "earlier message(s) left out" in last[0]["content"]
    assert last[-1]["content"].startswith("go on")  # the newest message is kept
    assert chats[-1].outputs["choices"][0]["message"]["content"].startswith("step 29 ")
    assert plan.tags["roibench.cost_usd"] == "0.00000360"  # 30 x 1.2e-7, plain notation
    assert chats[0].attributes["roibench.cost_usd"] == "0.00000012"


def test_chat_span_messages_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-roibench-span-SECRET-123456789"
    monkeypatch.setenv("SPAN_TEST_API_KEY", secret)
    messages = [
        MessageRecord(role="system", content="policy"),
        MessageRecord(role="user", content=f"my key is {secret}"),
        MessageRecord(role="assistant", content=f"noted: {secret}"),
    ]
    plan = plan_trace(_message_trial(messages), CTX)
    (chat,) = [s for s in plan.spans if s.span_type == "CHAT_MODEL"]
    assert secret not in repr(chat.inputs) and secret not in repr(chat.outputs)
    assert "[REDACTED]" in chat.inputs["messages"][1]["content"]


def test_a_record_that_does_not_line_up_gets_no_messages() -> None:
    # an error cut the trial short: the record holds the opening only
    trial = _message_trial(
        [MessageRecord(role="system", content="p"), MessageRecord(role="user", content="u")]
    ).model_copy(
        update={
            "calls": (CallRecord(started_at=T0, latency_s=0.1, usage=Usage(), cost_usd=Decimal(0)),)
        }
    )
    plan = plan_trace(trial, CTX)
    (chat,) = [s for s in plan.spans if s.span_type == "CHAT_MODEL"]
    assert "messages" not in chat.inputs
