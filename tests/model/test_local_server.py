"""llama.cpp's real server with the real Gemma 3 270M GGUF: how roibench finds the file,
starts and stops the server, and what it makes of each thing a real model and server do
(docs/local-models.md). No mocks: every response here came from the server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from local_fixtures import GEMMA_PACKAGE, GEMMA_SHA256, RecordingProxy, gemma_model
from mlflow_server_fixture import free_port

from roibench.model.client import ChatModel, Endpoint, LLMError
from roibench.model.errors import classify_status
from roibench.model.local_server import LlamaServer, resolve_gguf
from roibench.model.providers import PRESETS
from roibench.pricing.cards import ComputeCard, ComputePricer
from roibench.run.plugins import resolve_workflow

LLAMACPP = PRESETS["llamacpp"]
CARD = ComputePricer(
    ComputeCard(id="test/2vcpu", usd_per_hour=Decimal("0.0816"), parallel_slots=1), "test"
)
ORDER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_order",
            "description": "Look up an order by id",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]
ASK = [
    {"role": "system", "content": "You are a refunds agent. Use the tools."},
    {"role": "user", "content": "Please look up order A-7."},
]


def chat(base_url: str, **kwargs: Any) -> ChatModel:
    params = {"temperature": 0, **kwargs.pop("params", {})}
    return ChatModel(
        endpoint=Endpoint.open(LLAMACPP, base_url, 1, 300.0),
        model_id="gemma",
        price=CARD,
        params=params,
        backoff_base_s=0.05,
        **kwargs,
    )


def complete(model: ChatModel, messages: list[dict[str, Any]], tools: list[dict[str, Any]]):
    async def go() -> dict[str, Any]:
        try:
            return await model.complete(messages, tools)
        finally:
            await model.endpoint.aclose()

    return asyncio.run(go())


def hand_cost(busy_ms: Decimal) -> Decimal:
    """USD 0.0816 an hour, one slot, `busy_ms` milliseconds."""
    return Decimal("0.0816") * busy_ms / Decimal(3_600_000)


def test_the_package_resolves_to_its_published_file() -> None:
    path, package = resolve_gguf(GEMMA_PACKAGE, Path.cwd())
    assert package == GEMMA_PACKAGE and path.name == "gemma-3-270m-q4_k_m.gguf"
    assert gemma_model().sha256 == GEMMA_SHA256


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("no/such/model.gguf", "GGUF file not found"),
        ("no-such-model-package", "neither a .gguf file nor an installed package"),
        ("httpx", "ships no .gguf file and has no assemble()"),
    ],
)
def test_a_model_that_is_not_there_is_named(model: str, words: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=words):
        resolve_gguf(model, tmp_path)


def test_loading_server_answers_503_then_serves_and_stops(tmp_path: Path) -> None:
    # the child as roibench starts it, on a fixed port so that it can be asked while loading
    server = LlamaServer(gemma_model(n_ctx=512))
    port = free_port()
    proc = subprocess.Popen(
        [*server.command(), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        status, body = 0, None
        for _ in range(600):  # until the HTTP listener is up (it answers while loading)
            try:
                r = httpx.get(base + "/health", timeout=2)
                status, body = r.status_code, r.json()
                break
            except httpx.HTTPError:
                time.sleep(0.02)
        assert status == 503, (status, body)
        assert body == {
            "error": {"message": "Loading model", "type": "unavailable_error", "code": 503}
        }
        info = classify_status(LLAMACPP, 503, body)
        assert (info.error_class, info.retryable) == ("server_loading", True)
        # a request sent now is retried until the model has loaded
        model = chat(base + "/v1", params={"max_tokens": 4})
        model.backoff_base_s, model.max_retries = 0.5, 6  # roibench's default backoff
        turn = complete(model, ASK, [])
        errors = [c.error for c in model.calls]
        assert errors[-1] is None and set(errors[:-1]) == {"server_loading"}, errors
        assert len(errors) >= 2, "the first attempt should have met the loading server"
        assert turn["role"] == "assistant" and model.calls[-1].usage.output_tokens == 4
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()


def test_managed_server_lifecycle() -> None:
    server = LlamaServer(gemma_model(n_ctx=256), label="lifecycle")
    server.start()
    url = server.url
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert httpx.get(url + "/health").json() == {"status": "ok"}
    models = httpx.get(server.base_url + "/models").json()
    assert models["data"][0]["id"].endswith("gemma-3-270m-q4_k_m.gguf")
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=2)


def test_context_overflow_is_classified_and_not_retried(gemma_server: LlamaServer) -> None:
    model = chat(gemma_server.base_url, params={"max_tokens": 4})
    long = [{"role": "user", "content": "refund " * 3000}]
    with pytest.raises(LLMError) as caught:
        complete(model, long, [])
    assert caught.value.error_class == "context_overflow"
    assert "exceeds the available context size (2048 tokens)" in str(caught.value)
    assert [c.error for c in model.calls] == ["context_overflow"]  # once: a retry fails alike
    # the machine time it held is paid: its wall time, as no timings came back
    call = model.calls[0]
    assert call.timings is None
    assert call.cost_usd == hand_cost(Decimal(repr(call.latency_s)) * 1000)


@pytest.mark.parametrize("stream", [False, True])
def test_usage_timings_and_cost_are_the_servers(gemma_proxy: RecordingProxy, stream: bool) -> None:
    model = chat(gemma_proxy.base_url, params={"max_tokens": 6}, stream=stream)
    complete(model, ASK, [])
    (exchange,) = gemma_proxy.chat_exchanges()
    if stream:
        assert exchange.request["stream"] is True
        assert exchange.request["stream_options"] == {"include_usage": True}
        final = exchange.sse()[-1]
        assert final["choices"] == []
        usage, timings = final["usage"], final["timings"]
        finish = next(e["choices"][0]["finish_reason"] for e in exchange.sse() if e["choices"]
                      and e["choices"][0]["finish_reason"])  # fmt: skip
    else:
        body = exchange.json()
        usage, timings = body["usage"], body["timings"]
        finish = body["choices"][0]["finish_reason"]
    (call,) = model.calls
    assert call.usage.input_tokens == usage["prompt_tokens"]
    assert call.usage.output_tokens == usage["completion_tokens"] == 6
    assert call.usage.cache_read_tokens == usage["prompt_tokens_details"]["cached_tokens"]
    assert call.finish_reason == finish == "length"  # Gemma 270M rambles to max_tokens
    assert call.timings is not None
    assert (call.timings.prompt_ms, call.timings.predicted_ms) == (
        timings["prompt_ms"],
        timings["predicted_ms"],
    )
    busy = Decimal(str(timings["prompt_ms"])) + Decimal(str(timings["predicted_ms"]))
    assert call.cost_usd == hand_cost(busy)


def test_think_block_is_split_from_the_answer(gemma_server: LlamaServer) -> None:
    # the output constrained by a GBNF grammar (allowed without tools): what a reasoning
    # model with a template lacking a reasoning format sends, <think> inside content
    grammar = 'root ::= "<think>The order is eligible.</think>Refund issued."'
    model = chat(
        gemma_server.base_url, params={"max_tokens": 24, "extra_body": {"grammar": grammar}}
    )
    turn = complete(model, ASK, [])
    assert turn["content"].startswith("Refund issued")
    assert "<think>" not in turn["content"] and "eligible" not in turn["content"]


def test_unknown_tool_name_is_an_invalid_tool_call_not_retried(
    gemma_tools_server: LlamaServer,
) -> None:
    # the assistant turn prefilled with a call to a tool that was not offered: llama.cpp's
    # parser rejects the model's output with HTTP 500
    prefill = (
        '<tool_call>\n{"name": "cancel_everything", "arguments": {"order_id": "A-7"}}\n</tool_call>'
    )
    messages = [*ASK, {"role": "assistant", "content": prefill}]
    for stream in (False, True):  # streamed: HTTP 200, then an SSE error event
        model = chat(gemma_tools_server.base_url, params={"max_tokens": 1}, stream=stream)
        with pytest.raises(LLMError) as caught:
            complete(model, messages, ORDER_TOOLS)
        assert caught.value.error_class == "invalid_tool_call"
        assert "does not match the expected" in str(caught.value)
        assert [c.error for c in model.calls] == ["invalid_tool_call"]


def test_tool_call_cut_by_max_tokens_has_invalid_json(gemma_tools_server: LlamaServer) -> None:
    prefill = '<tool_call>\n{"name": "get_order", "arguments": {"order_id": "A'
    messages = [*ASK, {"role": "assistant", "content": prefill}]
    model = chat(gemma_tools_server.base_url, params={"max_tokens": 1})
    turn = complete(model, messages, ORDER_TOOLS)
    assert model.calls[0].finish_reason == "length"
    (tool_call,) = turn["tool_calls"]
    assert tool_call["function"]["name"] == "get_order"
    arguments = tool_call["function"]["arguments"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)
    # what the agent's tool call then meets: an error it can read, counted as invalid
    wf = resolve_workflow("refunds", [Path.cwd()])
    task = wf.load_tasks(Path(str(wf.dataset))).tasks[0]
    env = wf.new_env(task)
    result = asyncio.run(env.call("get_order", arguments))
    assert result.startswith("error: arguments are not valid JSON") and env.invalid_calls == 1


def test_history_with_invalid_tool_arguments_is_not_retried(
    gemma_tools_server: LlamaServer,
) -> None:
    # a conversation that carries the model's own cut tool call back: llama.cpp cannot render
    # it (HTTP 500 "Failed to parse tool call arguments as JSON"); retrying cannot help
    call = {"id": "c1", "type": "function",
            "function": {"name": "get_order", "arguments": '{"order_id": "A-'}}  # fmt: skip
    messages = [
        *ASK,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "error: arguments are not valid JSON"},
    ]
    model = chat(gemma_tools_server.base_url, params={"max_tokens": 2})
    with pytest.raises(LLMError) as caught:
        complete(model, messages, ORDER_TOOLS)
    assert caught.value.error_class == "invalid_tool_call"
    assert "Failed to parse tool call arguments as JSON" in str(caught.value)
    assert [c.error for c in model.calls] == ["invalid_tool_call"]
