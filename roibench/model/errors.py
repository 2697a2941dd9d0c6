"""Provider-aware classification of API errors (../shared/reference/providers.md §5).

The same words mean different things per provider: OpenAI's 429 `insufficient_quota` is a
billing stop, DashScope's is a TPM throttle; Zhipu's 429 with code "1113" is an empty balance;
MiniMax reports errors with HTTP 200 in `base_resp`. Billing errors are final and stop the cell;
throttles and server errors are retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roibench.core.secrets import redact
from roibench.model.providers import Provider


@dataclass(frozen=True)
class ErrorInfo:
    """What an error means for the run."""

    error_class: str
    """Taxonomy entry: rate_limited, api_error, timeout, billing, auth, bad_request."""
    retryable: bool
    message: str
    """Redacted provider message."""

    @property
    def billing(self) -> bool:
        """Money problem: stop the cell."""
        return self.error_class == "billing"


_MINIMAX = {
    1002: ("rate_limited", True),
    1004: ("auth", False),
    1008: ("billing", False),
    1039: ("bad_request", False),
    2013: ("bad_request", False),
}


def _error_fields(body: Any) -> tuple[str, str, str]:
    """(type, code, message) from an OpenAI-shaped or flat error body."""
    if not isinstance(body, Mapping):
        return "", "", str(body or "")
    err = body.get("error")
    if isinstance(err, Mapping):
        return str(err.get("type") or ""), str(err.get("code") or ""), str(err.get("message") or "")
    return "", str(body.get("code") or ""), str(body.get("message") or "")


def classify_status(provider: Provider, status: int, body: Any) -> ErrorInfo:
    """Classify an HTTP error response."""
    type_, code, message = _error_fields(body)
    text = redact(message)[:500]
    dashscope = provider.name.startswith("qwen") or (
        isinstance(body, Mapping) and "request_id" in body and "aliyun" in message
    )
    if status == 402:
        return ErrorInfo("billing", False, text or "payment required")
    if status == 401:
        return ErrorInfo("auth", False, text or "unauthorized")
    if status == 403:
        if code == "30011" or "balance" in message.lower():
            return ErrorInfo("billing", False, text)
        return ErrorInfo("auth", False, text or "forbidden")
    if status == 429:
        if code == "1113":  # Zhipu: balance exhausted or no resource package
            return ErrorInfo("billing", False, text)
        if type_ == "exceeded_current_quota_error":  # Kimi billing
            return ErrorInfo("billing", False, text)
        if "insufficient_quota" in (type_, code) and not dashscope:
            return ErrorInfo("billing", False, text)
        return ErrorInfo("rate_limited", True, text or "rate limited")
    if status in (408, 409, 425) or status >= 500:
        return ErrorInfo("api_error", True, text or f"HTTP {status}")
    return ErrorInfo("bad_request", False, text or f"HTTP {status}")


def classify_body(provider: Provider, body: Any) -> ErrorInfo | None:
    """An error hidden in a 200 response (MiniMax `base_resp`), or None."""
    if not isinstance(body, Mapping):
        return ErrorInfo("api_error", True, "response is not a JSON object")
    base = body.get("base_resp")
    if isinstance(base, Mapping):
        status = base.get("status_code")
        if isinstance(status, int) and status != 0:
            error_class, retryable = _MINIMAX.get(status, ("api_error", False))
            return ErrorInfo(
                error_class, retryable, redact(str(base.get("status_msg") or ""))[:500]
            )
    if "error" in body and "choices" not in body:
        return classify_status(provider, 400, body)
    del provider
    return None
