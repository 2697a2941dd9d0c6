"""Provider-aware classification of API errors (../shared/reference/providers.md §5).

The same words mean different things per provider: OpenAI's 429 `insufficient_quota` is a
billing stop, DashScope's is a TPM throttle; Zhipu's 429 with code "1113" is an empty balance;
MiniMax reports errors with HTTP 200 in `base_resp`. Billing errors are final and stop the cell;
throttles and server errors are retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roibench.core.records import ErrorClass
from roibench.core.secrets import redact
from roibench.model.providers import Provider

if TYPE_CHECKING:
    from roibench.core.records import CallRecord


@dataclass(frozen=True)
class ErrorInfo:
    """What an error means for the run."""

    error_class: ErrorClass
    """Taxonomy entry (a string enum): rate_limited, api_error, timeout, billing, auth,
    not_found (an unknown model or path), bad_request."""
    retryable: bool
    message: str
    """Redacted provider message."""

    @property
    def billing(self) -> bool:
        """Money problem: stop the cell."""
        return self.error_class == "billing"


_MINIMAX = {
    1002: (ErrorClass.RATE_LIMITED, True),
    1004: (ErrorClass.AUTH, False),
    1008: (ErrorClass.BILLING, False),
    1039: (ErrorClass.BAD_REQUEST, False),
    2013: (ErrorClass.BAD_REQUEST, False),
}


def _error_fields(body: Any) -> tuple[str, str, str]:
    """(type, code, message) from an OpenAI-shaped or flat error body."""
    if not isinstance(body, Mapping):
        return "", "", str(body or "")
    err = body.get("error")
    if isinstance(err, Mapping):
        return str(err.get("type") or ""), str(err.get("code") or ""), str(err.get("message") or "")
    return "", str(body.get("code") or ""), str(body.get("message") or "")


_CONTEXT_WORDS = (
    "exceeds the available context size",  # llama.cpp
    "maximum context length",  # OpenAI, vLLM
    "context length exceeded",
    "context_length_exceeded",
    "exceeded model token limit",  # Kimi
)
_UNPARSED_WORDS = ("does not match the expected", "failed to parse tool call arguments")
"""llama.cpp, HTTP 500: the model's output could not be parsed by the chat format (a tool
call naming a tool that was not offered, a malformed call), or the conversation sent back
holds a tool call whose arguments are not JSON (the template cannot render it); see
docs/local-models.md. The same request fails the same way: not retried."""


def classify_status(provider: Provider, status: int, body: Any) -> ErrorInfo:
    """Classify an HTTP error response."""
    type_, code, message = _error_fields(body)
    text = redact(message)[:500]
    lowered = message.lower()
    if status in (400, 413) and (
        type_ == "exceed_context_size_error"
        or code == "context_length_exceeded"
        or any(w in lowered for w in _CONTEXT_WORDS)
    ):
        return ErrorInfo(ErrorClass.CONTEXT_OVERFLOW, False, text or "context overflow")
    if status == 503 and (type_ == "unavailable_error" or "loading model" in lowered):
        return ErrorInfo(ErrorClass.SERVER_LOADING, True, text or "model loading")
    if status == 500 and any(w in lowered for w in _UNPARSED_WORDS):
        return ErrorInfo(ErrorClass.INVALID_TOOL_CALL, False, text)
    dashscope = provider.name.startswith("qwen") or (
        isinstance(body, Mapping) and "request_id" in body and "aliyun" in message
    )
    if status == 402:
        return ErrorInfo(ErrorClass.BILLING, False, text or "payment required")
    if status == 401:
        return ErrorInfo(ErrorClass.AUTH, False, text or "unauthorized")
    if status == 403:
        if code == "30011" or "balance" in message.lower():
            return ErrorInfo(ErrorClass.BILLING, False, text)
        return ErrorInfo(ErrorClass.AUTH, False, text or "forbidden")
    if status == 429:
        if code == "1113":  # Zhipu: balance exhausted or no resource package
            return ErrorInfo(ErrorClass.BILLING, False, text)
        if type_ == "exceeded_current_quota_error":  # Kimi billing
            return ErrorInfo(ErrorClass.BILLING, False, text)
        if "insufficient_quota" in (type_, code) and not dashscope:
            return ErrorInfo(ErrorClass.BILLING, False, text)
        return ErrorInfo(ErrorClass.RATE_LIMITED, True, text or "rate limited")
    if status == 404:  # an unknown model (or a base_url without /v1): final, like auth
        return ErrorInfo(ErrorClass.NOT_FOUND, False, text or "not found")
    if status in (408, 409, 425) or status >= 500:
        return ErrorInfo(ErrorClass.API_ERROR, True, text or f"HTTP {status}")
    return ErrorInfo(ErrorClass.BAD_REQUEST, False, text or f"HTTP {status}")


def classify_body(provider: Provider, body: Any) -> ErrorInfo | None:
    """An error hidden in a 200 response (MiniMax `base_resp`), or None."""
    if not isinstance(body, Mapping):
        return ErrorInfo(ErrorClass.API_ERROR, True, "response is not a JSON object")
    base = body.get("base_resp")
    if isinstance(base, Mapping):
        status = base.get("status_code")
        if isinstance(status, int) and status != 0:
            error_class, retryable = _MINIMAX.get(status, (ErrorClass.API_ERROR, False))
            return ErrorInfo(
                error_class, retryable, redact(str(base.get("status_msg") or ""))[:500]
            )
    if "error" in body and "choices" not in body:
        return classify_status(provider, 400, body)
    del provider
    return None


def trial_behaviour(
    calls: Sequence[CallRecord], tool_calls: int, needs_action: bool
) -> ErrorClass | None:
    """What a real model did wrong in a trial that ended without an error: its last agent
    turn was cut at max_tokens, or it answered in text without calling any tool on a task
    whose reference solution acts. None when neither (the trial is graded either way)."""
    agent_calls = [c for c in calls if c.role == "agent" and c.error is None]
    if agent_calls and agent_calls[-1].finish_reason == "length":
        return ErrorClass.OUTPUT_TRUNCATED
    if needs_action and tool_calls == 0:
        return ErrorClass.NO_TOOL_CALL
    return None
