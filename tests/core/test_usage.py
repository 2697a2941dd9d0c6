"""Usage normalisation per dialect: every real payload in ../shared/data/provider-payloads (read
from there), roibench's own fixtures for providers without real payloads, and streams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from roibench.core.usage import (
    Usage,
    assemble_stream,
    normalize_usage,
    parse_sse,
    reasoning_text,
    split_think,
)

OWN = Path(__file__).parents[1] / "fixtures" / "payloads"

# (input, cache_read, cache_write, output, reasoning) read by hand from each file's usage block.
REAL_USAGE: dict[str, tuple[int, int, int, int, int]] = {
    # DeepSeek: prompt_cache_hit/miss_tokens (hit + miss = prompt_tokens)
    "deepseek-reasoner-reasoning.json": (12, 0, 0, 789, 415),
    "deepseek-reasoner-stream-final-chunk.json": (6, 0, 0, 212, 198),
    "deepseek-reasoner-toolcall-cachehit.json": (339, 320, 0, 92, 48),
    "deepseek-reasoner-toolcall-stream-final-chunk.json": (339, 320, 0, 83, 39),
    "deepseek-v4flash-toolcall-reasoning-cachehit.json": (563, 512, 0, 116, 60),
    # Kimi: usage inside choices[0], top-level cached_tokens
    "kimi-k2-turbo-stream-final-chunk-usage-in-choice.json": (8, 8, 0, 11, 0),
    # MiniMax
    "minimax-m1-chatcompletion_v2-reasoning-content.json": (26, 0, 0, 223, 214),
    "minimax-m2.7-cn-cached-tokens.json": (22, 0, 0, 21, 0),
    "minimax-m2.7-intl-think-in-content.json": (42, 0, 0, 38, 29),
    # OpenAI
    "openai-gpt-4.1-nano-stream-final-usage-chunk.json": (16, 0, 0, 300, 0),
    "openai-gpt-4.1-nano-text.json": (16, 0, 0, 363, 0),
    "openai-gpt-4o-toolcall.json": (281, 0, 0, 17, 0),
    # Qwen (DashScope compat mode)
    "qwen-qwen3-max-reasoning.json": (24, 0, 0, 1668, 1353),
    "qwen-qwen3-max-stream-final-usage-chunk.json": (295, 0, 0, 22, 0),
    "qwen-qwen3-max-text.json": (18, 0, 0, 1064, 0),
    "qwen-qwen3-max-toolcall.json": (295, 0, 0, 22, 0),
    # Z.ai GLM
    "zai-glm-4.6v-vision-cached-tokens.json": (435, 4, 0, 73, 56),
    "zai-glm-4.7-reasoning.json": (13, 0, 0, 437, 427),
    "zai-glm-4.7-stream-final-chunk.json": (13, 0, 0, 564, 561),
    "zai-glm-5.2-reasoning.json": (20, 0, 0, 67, 58),
    "zai-glm-5.3-reasoning.json": (20, 0, 0, 125, 116),
}

REAL_ERRORS = {
    "deepseek-error-400-context-length.json",
    "deepseek-error-400-missing-reasoning-content.json",
    "deepseek-error-401-auth.json",
    "deepseek-error-402-insufficient-balance.json",
    "kimi-error-400-context-length.json",
    "kimi-error-400-missing-reasoning-content.json",
    "kimi-error-429-rate-limit.json",
    "openai-error-400-unsupported-parameter.json",
    "openai-error-429-insufficient-quota.json",
    "qwen-dashscope-error-429-tpm-insufficient_quota.json",
    "siliconflow-error-403-30011-paid-balance.json",
    "zhipu-error-429-1113-insufficient-balance.json",
}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def payloads(shared_data: Path) -> Path:
    path = shared_data / "provider-payloads"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def test_every_real_payload_is_covered(payloads: Path) -> None:
    on_disk = {p.name for p in payloads.glob("*.json")}
    assert on_disk == set(REAL_USAGE) | REAL_ERRORS, "a payload was added or removed: cover it"


@pytest.mark.parametrize("name", sorted(REAL_USAGE))
def test_real_payload_usage(payloads: Path, name: str) -> None:
    usage = normalize_usage(_load(payloads / name))
    inp, read, write, out, reasoning = REAL_USAGE[name]
    assert usage == Usage(
        input_tokens=inp,
        cache_read_tokens=read,
        cache_write_tokens=write,
        output_tokens=out,
        reasoning_tokens=reasoning,
        requests=1,
    )


@pytest.mark.parametrize("name", sorted(REAL_ERRORS))
def test_error_bodies_carry_no_usage(payloads: Path, name: str) -> None:
    assert normalize_usage(_load(payloads / name)) is None


def test_deepseek_uncached_input_is_the_miss_count(payloads: Path) -> None:
    usage = normalize_usage(_load(payloads / "deepseek-v4flash-toolcall-reasoning-cachehit.json"))
    assert usage is not None
    # prompt_cache_miss_tokens in the file is 51 = 563 - 512
    assert usage.uncached_input_tokens == 51


def test_real_reasoning_fields(payloads: Path) -> None:
    ds = _load(payloads / "deepseek-reasoner-toolcall-cachehit.json")["choices"][0]["message"]
    assert reasoning_text(ds).startswith("The user is asking for the weather in San Francisco.")
    glm = _load(payloads / "zai-glm-5.2-reasoning.json")["choices"][0]["message"]
    assert reasoning_text(glm).startswith("1.  Identify the core question")
    assert reasoning_text({"content": "no reasoning here"}) == ""


def test_real_minimax_think_in_content_is_stripped(payloads: Path) -> None:
    message = _load(payloads / "minimax-m2.7-intl-think-in-content.json")["choices"][0]["message"]
    answer, reasoning = split_think(message["content"])
    assert "<think>" not in answer and "</think>" not in answer
    assert answer.startswith("Hello!")
    assert reasoning.startswith('The user just says "Hello".')
    cn = _load(payloads / "minimax-m2.7-cn-cached-tokens.json")["choices"][0]["message"]
    answer, reasoning = split_think(cn["content"])
    assert answer == "你好!有什么我可以帮助你的吗?"
    assert reasoning == "用户用中文打招呼,我应该用中文回应。"


def test_unclosed_think_is_all_reasoning() -> None:
    assert split_think("<think>still thinking when cut off") == ("", "still thinking when cut off")


# --------------------------------------------------------------------------- own fixtures

OWN_USAGE: dict[str, tuple[int, int, int, int, int]] = {
    "stepfun-step-3.7-flash-reasoning.json": (1200, 1024, 0, 310, 250),
    "doubao-seed-2-0-pro-cachehit.json": (5000, 4096, 0, 140, 100),
    "siliconflow-deepseek-v4-pro.json": (880, 0, 0, 64, 40),
    "minimax-m2.7-reasoning-details.json": (600, 512, 0, 100, 70),
    "qwen-explicit-cache-write.json": (300000, 0, 10000, 2000, 0),
    "openai-cache-write.json": (2000, 1024, 512, 50, 30),
}


@pytest.mark.parametrize("name", sorted(OWN_USAGE))
def test_own_fixture_usage(name: str) -> None:
    usage = normalize_usage(_load(OWN / name))
    inp, read, write, out, reasoning = OWN_USAGE[name]
    assert usage == Usage(
        input_tokens=inp,
        cache_read_tokens=read,
        cache_write_tokens=write,
        output_tokens=out,
        reasoning_tokens=reasoning,
        requests=1,
    )


def test_cache_write_is_not_billed_as_uncached_input() -> None:
    usage = normalize_usage(_load(OWN / "openai-cache-write.json"))
    assert usage is not None
    assert usage.uncached_input_tokens == 2000 - 1024 - 512


def test_own_reasoning_fields() -> None:
    step = _load(OWN / "stepfun-step-3.7-flash-reasoning.json")["choices"][0]["message"]
    assert reasoning_text(step) == "Order total 42.00, delivered 3 days ago, policy allows 30 days."
    mm = _load(OWN / "minimax-m2.7-reasoning-details.json")["choices"][0]["message"]
    assert reasoning_text(mm) == "Check the order.\nRefund is allowed."


# --------------------------------------------------------------------------- streams


def test_stream_openai_tool_call_pieces_and_final_usage_chunk() -> None:
    chunks = parse_sse((OWN / "stream-openai-toolcall.sse").read_text(encoding="utf-8"))
    assert len(chunks) == 5
    result = assemble_stream(chunks)
    assert result.finish_reason == "tool_calls"
    assert result.model == "gpt-5.6-luna"
    call = result.message["tool_calls"][0]
    assert call["id"] == "call_abc"
    assert call["function"]["name"] == "issue_refund"
    assert json.loads(call["function"]["arguments"]) == {"order_id": "A-1001", "amount": 42.0}
    assert result.usage == Usage(
        input_tokens=900, cache_read_tokens=768, output_tokens=30, requests=1
    )


def test_stream_kimi_usage_inside_choice() -> None:
    result = assemble_stream(_load(OWN / "stream-kimi-usage-in-choice.json"))
    assert result.message["content"] == "Hello there!"
    assert result.message["reasoning_content"] == "The user greets me."
    assert result.usage == Usage(
        input_tokens=1500, cache_read_tokens=1280, output_tokens=40, requests=1
    )


def test_stream_deepseek_usage_on_finish_chunk() -> None:
    result = assemble_stream(_load(OWN / "stream-deepseek-reasoning.json"))
    assert result.message["content"] == "Refund approved."
    assert result.message["reasoning_content"] == "Policy says 30 days."
    assert result.usage == Usage(
        input_tokens=2048,
        cache_read_tokens=1920,
        output_tokens=77,
        reasoning_tokens=60,
        requests=1,
    )
    assert result.usage is not None and result.usage.uncached_input_tokens == 128


def test_stream_stepfun_reasoning_field() -> None:
    result = assemble_stream(_load(OWN / "stream-stepfun-reasoning.json"))
    assert result.message["reasoning"] == "Look up the order."
    assert reasoning_text(result.message) == "Look up the order."
    assert result.usage == Usage(
        input_tokens=400, output_tokens=25, reasoning_tokens=12, requests=1
    )


def test_stream_without_usage() -> None:
    chunks = [{"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}]
    result = assemble_stream(chunks)
    assert result.usage is None
    assert result.message == {"role": "assistant", "content": "hi"}


@pytest.mark.parametrize(
    "name",
    [
        "deepseek-reasoner-toolcall-stream-final-chunk.json",
        "kimi-k2-turbo-stream-final-chunk-usage-in-choice.json",
        "qwen-qwen3-max-stream-final-usage-chunk.json",
        "zai-glm-4.7-stream-final-chunk.json",
    ],
)
def test_real_final_chunks_give_usage_to_a_stream(payloads: Path, name: str) -> None:
    final = _load(payloads / name)
    opening = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "x"}}]}
    result = assemble_stream([opening, final])
    inp, read, write, out, reasoning = REAL_USAGE[name]
    assert result.usage == Usage(
        input_tokens=inp,
        cache_read_tokens=read,
        cache_write_tokens=write,
        output_tokens=out,
        reasoning_tokens=reasoning,
        requests=1,
    )
    assert result.message["content"] == "x"


def test_usage_adds_up() -> None:
    a = Usage(input_tokens=10, cache_read_tokens=4, output_tokens=3, reasoning_tokens=1, requests=1)
    b = Usage(input_tokens=5, cache_write_tokens=2, output_tokens=7, requests=1)
    assert a + b == Usage(
        input_tokens=15,
        cache_read_tokens=4,
        cache_write_tokens=2,
        output_tokens=10,
        reasoning_tokens=1,
        requests=2,
    )
    assert sum([a, b], Usage()) == a + b
