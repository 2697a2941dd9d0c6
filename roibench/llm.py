"""LLM calls: `openai.AsyncOpenAI` on the raw wire, with usage normalisation, pricing, retries
and every attempt recorded as a CallRecord.

Responses are read as raw JSON rather than SDK objects: the provider-specific usage fields
(DeepSeek's prompt_cache_hit_tokens, Kimi's cached_tokens, MiniMax's base_resp) survive intact,
and the hot path skips building SDK models.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import openai

from roibench.pricing import DEFAULT_FX, FxTable, PriceCard, call_cost_usd
from roibench.providers import Provider
from roibench.records import CallRecord
from roibench.usage import Usage, normalize_usage, reasoning_text, split_think


class LLMError(Exception):
    """A call that failed for good. `error_class` is the taxonomy entry."""

    def __init__(self, error_class: str, message: str) -> None:
        self.error_class = error_class
        super().__init__(message)


@dataclass
class Endpoint:
    """One provider endpoint: a shared AsyncOpenAI client and a request limit."""

    provider: Provider
    client: openai.AsyncOpenAI
    limit: asyncio.Semaphore

    @classmethod
    def open(cls, provider: Provider, base_url: str, concurrency: int, timeout_s: float) -> Endpoint:
        """Create the client. The key comes from the environment only."""
        key = provider.api_key() or "not-needed"
        client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=key,
            max_retries=0,  # retries happen here so each attempt is recorded
            timeout=timeout_s,
            http_client=httpx.AsyncClient(
                timeout=timeout_s,
                limits=httpx.Limits(
                    max_connections=concurrency, max_keepalive_connections=concurrency
                ),
            ),
        )
        return cls(provider=provider, client=client, limit=asyncio.Semaphore(concurrency))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()


_RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def _retry_after_s(headers: httpx.Headers | None) -> float | None:
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


@dataclass
class ChatModel:
    """A model as one trial sees it: `complete(messages, tools)` returns the assistant message
    to append, and records a CallRecord for every attempt."""

    endpoint: Endpoint
    model_id: str
    price: PriceCard | None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    max_retries: int = 4
    fx: FxTable = DEFAULT_FX
    calls: list[CallRecord] = field(default_factory=list)
    backoff_base_s: float = 0.5

    @property
    def usage(self) -> Usage:
        """Usage of all calls so far."""
        return sum((c.usage for c in self.calls), Usage())

    @property
    def cost_usd(self) -> Decimal | None:
        """Cost of all calls so far; None if any is unpriced."""
        total = Decimal(0)
        for c in self.calls:
            if c.cost_usd is None:
                return None
            total += c.cost_usd
        return total

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        provider = self.endpoint.provider
        body: dict[str, Any] = {"model": self.model_id, "messages": messages}
        if tools:
            body["tools"] = tools
        for key, value in self.params.items():
            if key == "max_tokens":
                body[provider.max_tokens_param] = value
            else:
                body[key] = value
        if self.seed is not None and provider.simulated:
            body["seed"] = self.seed
        return body

    async def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """One assistant turn. Raises LLMError after retries are exhausted."""
        body = self._request(messages, tools)
        extra_body = body.pop("extra_body", None)
        attempt = 0
        while True:
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            try:
                async with self.endpoint.limit:
                    raw = await self.endpoint.client.chat.completions.with_raw_response.create(
                        **body, extra_body=extra_body
                    )
                data = json.loads(raw.http_response.content)
            except openai.APIStatusError as exc:
                error_class = "rate_limited" if exc.status_code == 429 else "api_error"
                self._record_failure(started, t0, error_class)
                retry_after = _retry_after_s(exc.response.headers)
                if exc.status_code not in _RETRYABLE_STATUS or attempt >= self.max_retries:
                    raise LLMError(error_class, f"HTTP {exc.status_code} from {self.model_id}") from None
                await self._backoff(attempt, retry_after)
                attempt += 1
                continue
            except openai.APITimeoutError:
                self._record_failure(started, t0, "timeout")
                if attempt >= self.max_retries:
                    raise LLMError("timeout", f"timeout calling {self.model_id}") from None
                await self._backoff(attempt, None)
                attempt += 1
                continue
            except (openai.APIConnectionError, json.JSONDecodeError) as exc:
                self._record_failure(started, t0, "api_error")
                if attempt >= self.max_retries:
                    raise LLMError("api_error", f"{type(exc).__name__} calling {self.model_id}") from None
                await self._backoff(attempt, None)
                attempt += 1
                continue
            return self._accept(data, started, time.perf_counter() - t0)

    def _record_failure(self, started: datetime, t0: float, error_class: str) -> None:
        self.calls.append(
            CallRecord(
                started_at=started,
                latency_s=time.perf_counter() - t0,
                usage=Usage(requests=1),
                cost_usd=Decimal(0) if self.price is not None else None,
                error=error_class,
            )
        )

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        delay = self.backoff_base_s * (2**attempt) * (0.5 + random.random())
        if retry_after is not None:
            delay = max(delay, retry_after)
        await asyncio.sleep(min(delay, 60.0))

    def _accept(self, data: dict[str, Any], started: datetime, latency: float) -> dict[str, Any]:
        usage = normalize_usage(data) or Usage(requests=1)
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        content = message.get("content") or ""
        reasoning = reasoning_text(message)
        if "<think>" in content:
            content, think = split_think(content)
            reasoning = reasoning or think
        self.calls.append(
            CallRecord(
                started_at=started,
                latency_s=latency,
                usage=usage,
                cost_usd=call_cost_usd(usage, self.price, started, self.fx),
                finish_reason=choice.get("finish_reason"),
            )
        )
        turn: dict[str, Any] = {"role": "assistant", "content": content}
        tool_calls = message.get("tool_calls")
        if tool_calls:
            turn["tool_calls"] = [
                {
                    "id": tc.get("id") or f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": tc.get("function", {}).get("name", ""),
                        "arguments": tc.get("function", {}).get("arguments") or "{}",
                    },
                }
                for i, tc in enumerate(tool_calls)
            ]
        if self.endpoint.provider.echo_reasoning:
            # DeepSeek/Kimi thinking mode reject tool-call history without it (even "")
            turn["reasoning_content"] = reasoning
        return turn
