"""Provider-aware error classes, checked against real error bodies (read from ../shared/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roibench.model.errors import classify_body, classify_status
from roibench.model.providers import PRESETS

# file, provider preset, HTTP status, expected class, retryable — read off each body by hand
CASES = [
    ("openai-error-429-insufficient-quota.json", "openai", 429, "billing", False),
    ("qwen-dashscope-error-429-tpm-insufficient_quota.json", "qwen", 429, "rate_limited", True),
    ("zhipu-error-429-1113-insufficient-balance.json", "zhipu", 429, "billing", False),
    ("kimi-error-429-rate-limit.json", "moonshot", 429, "rate_limited", True),
    ("deepseek-error-402-insufficient-balance.json", "deepseek", 402, "billing", False),
    ("deepseek-error-401-auth.json", "deepseek", 401, "auth", False),
    ("deepseek-error-400-context-length.json", "deepseek", 400, "context_overflow", False),
    ("deepseek-error-400-missing-reasoning-content.json", "deepseek", 400, "bad_request", False),
    ("kimi-error-400-context-length.json", "moonshot", 400, "context_overflow", False),
    ("openai-error-400-unsupported-parameter.json", "openai", 400, "bad_request", False),
    ("siliconflow-error-403-30011-paid-balance.json", "siliconflow", 403, "billing", False),
]


@pytest.mark.parametrize(("name", "provider", "status", "error_class", "retryable"), CASES)
def test_real_error_bodies(
    shared_data: Path, name: str, provider: str, status: int, error_class: str, retryable: bool
) -> None:
    body = json.loads((shared_data / "provider-payloads" / name).read_text())
    info = classify_status(PRESETS[provider], status, body)
    assert (info.error_class, info.retryable) == (error_class, retryable)
    assert info.message  # the provider's words are kept (redacted) for the user


def test_same_words_differ_by_provider(shared_data: Path) -> None:
    # DashScope's TPM throttle reads like OpenAI's billing error; only the provider tells them apart
    body = json.loads(
        (
            shared_data / "provider-payloads/qwen-dashscope-error-429-tpm-insufficient_quota.json"
        ).read_text()
    )
    body.pop("request_id")
    assert classify_status(PRESETS["qwen"], 429, body).error_class == "rate_limited"
    assert classify_status(PRESETS["openai"], 429, body).error_class == "billing"


def test_kimi_billing_429_is_final() -> None:
    body = {"error": {"message": "quota", "type": "exceeded_current_quota_error"}}
    assert classify_status(PRESETS["moonshot"], 429, body).billing


def test_minimax_errors_arrive_with_http_200(shared_data: Path) -> None:
    ok = json.loads(
        (shared_data / "provider-payloads/minimax-m2.7-intl-think-in-content.json").read_text()
    )
    assert classify_body(PRESETS["minimax"], ok) is None  # base_resp status 0 is success
    # our own fixture: MiniMax's documented codes 1008 (balance) and 1002 (rate limit)
    broke = {"base_resp": {"status_code": 1008, "status_msg": "insufficient balance"}}
    info = classify_body(PRESETS["minimax"], broke)
    assert info is not None and info.billing
    throttled = classify_body(
        PRESETS["minimax"], {"base_resp": {"status_code": 1002, "status_msg": "rpm"}}
    )
    assert throttled is not None and throttled.retryable


def test_server_errors_are_retried() -> None:
    for status in (500, 502, 503, 504, 408):
        info = classify_status(PRESETS["openai"], status, {"error": {"message": "x"}})
        assert info.retryable and info.error_class == "api_error"


# bodies recorded from llama.cpp's server (xllamacpp 2026.10.11549) on 2026-12-01
LLAMACPP_BODIES = [
    (
        400,
        {"error": {"code": 400, "message": "request (2531 tokens) exceeds the available context "
                   "size (2048 tokens), try increasing it", "type": "exceed_context_size_error",
                   "n_prompt_tokens": 2531, "n_ctx": 2048}},
        "context_overflow",
        False,
    ),
    (
        503,
        {"error": {"message": "Loading model", "type": "unavailable_error", "code": 503}},
        "server_loading",
        True,
    ),
    (
        500,
        {"error": {"code": 500, "message": "The model produced output that does not match the "
                   "expected peg-native format", "type": "server_error"}},
        "invalid_tool_call",
        False,
    ),
    (
        500,
        {"error": {"code": 500, "message": "Failed to parse tool call arguments as JSON: "
                   "[json.exception.parse_error.101] parse error at line 1, column 17: syntax "
                   "error while parsing value - invalid string: missing closing quote; last "
                   "read: '\\\"A-'", "type": "server_error"}},
        "invalid_tool_call",
        False,
    ),
    (
        400,
        {"error": {"code": 400, "message": "Cannot use custom grammar constraints with tools.",
                   "type": "invalid_request_error"}},
        "bad_request",
        False,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "error_class", "retryable"), LLAMACPP_BODIES)
def test_llamacpp_error_bodies(
    status: int, body: dict[str, object], error_class: str, retryable: bool
) -> None:
    info = classify_status(PRESETS["llamacpp"], status, body)
    assert (info.error_class, info.retryable) == (error_class, retryable)
