"""LLM calls: `openai.AsyncOpenAI` on the raw wire, with usage normalisation, pricing, retries,
rate limits, an optional response cache, and every attempt recorded as a CallRecord.

Responses are read as raw JSON rather than SDK objects: the provider-specific usage fields
(DeepSeek's prompt_cache_hit_tokens, Kimi's cached_tokens, MiniMax's base_resp) survive intact,
and the hot path skips building SDK models. Retries happen here, not in the SDK, so every
attempt is recorded and priced.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import openai

from roibench.core.faults import ATTEMPT_HEADER, FAULTS_HEADER, TIMEOUT_HEADER
from roibench.core.records import CallRecord, CallRole, ErrorClass, ServerTimings, busy_seconds
from roibench.core.secrets import redact
from roibench.core.usage import (
    Usage,
    assemble_stream,
    find_usage_block,
    normalize_usage,
    parse_sse,
    reasoning_text,
    split_think,
)
from roibench.model.cache import ResponseCache, cache_key
from roibench.model.errors import ErrorInfo, classify_body, classify_status
from roibench.model.providers import Provider
from roibench.pricing.cards import (
    DEFAULT_FX,
    ComputePricer,
    FxTable,
    PriceCard,
    Pricer,
    call_cost_usd,
)


class LLMError(Exception):
    """A call that failed for good. `error_class` is the taxonomy entry; `stop_cell` is set for
    billing and authentication failures, after which no further trial of the cell can succeed;
    `retryable` is False when the provider's answer was final (auth, billing, unknown model,
    bad request), True when retries ran out on a transient one."""

    def __init__(
        self, error_class: ErrorClass | str, message: str, *, retryable: bool = True
    ) -> None:
        self.error_class = ErrorClass(error_class)
        self.stop_cell = error_class in ("billing", "auth")
        self.retryable = retryable
        super().__init__(redact(message))


class LimitReached(Exception):
    """A limit refused the trial's next request. `reason`: step_limit or token_limit (the
    agent's budgets) or budget_exhausted (the run's spend cap)."""

    def __init__(self, reason: ErrorClass | str, message: str) -> None:
        self.reason = ErrorClass(reason)
        super().__init__(message)


DEFAULT_OUTPUT_RESERVE = 8192
"""Output tokens a request is assumed to be able to produce when its model sets no
`max_tokens` (what the spend cap reserves for it)."""


class CallGuard(Protocol):
    """Checks every request of a trial against its limits (see roibench.run.budget)."""

    async def begin(self, role: CallRole) -> None:
        """Before each model turn (retries are the same turn): raise LimitReached when the
        trial's step or token budget is used up."""
        ...

    async def reserve(self, worst_usd: Decimal | None) -> Decimal:
        """Before each attempt sent to the network: hold its worst-case cost against the run's
        spend cap (raise LimitReached when it cannot fit); returns what was held."""
        ...

    async def release(self, held: Decimal, record: CallRecord) -> None:
        """After the attempt: give back the hold and count what it cost."""
        ...

    def observe(self, record: CallRecord) -> None:
        """Every call record of the trial, cached ones included (token budget)."""
        ...


class RequestLimiter:
    """Adaptive concurrency (halved on a 429, grown back one slot per window of successes)
    plus optional requests-per-minute and tokens-per-minute windows for one endpoint."""

    def __init__(self, concurrency: int, rpm: int | None = None, tpm: int | None = None) -> None:
        self.max_concurrency = concurrency
        self.limit = float(concurrency)
        self.rpm = rpm
        self.tpm = tpm
        self.in_flight = 0
        self.backoffs = 0
        self._cond = asyncio.Condition()
        self._starts: collections.deque[float] = collections.deque()
        self._tokens: collections.deque[tuple[float, int]] = collections.deque()

    async def acquire(self, estimated_tokens: int) -> None:
        """Wait for a slot (and for the RPM/TPM windows)."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < max(1, int(self.limit)))
            self.in_flight += 1
        try:
            while True:
                delay = self._window_delay(estimated_tokens)
                if delay <= 0:
                    break
                await asyncio.sleep(delay)
        except BaseException:  # cancelled while waiting for the window: give the slot back
            async with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()
            raise
        if self.rpm:
            self._starts.append(time.monotonic())

    def _window_delay(self, estimated_tokens: int) -> float:
        now = time.monotonic()
        delays = [0.0]
        if self.rpm:
            while self._starts and now - self._starts[0] >= 60:
                self._starts.popleft()
            if len(self._starts) >= self.rpm:
                delays.append(60 - (now - self._starts[0]))
        if self.tpm:
            while self._tokens and now - self._tokens[0][0] >= 60:
                self._tokens.popleft()
            used = sum(n for _, n in self._tokens)
            if self._tokens and used + estimated_tokens > self.tpm:
                delays.append(60 - (now - self._tokens[0][0]))
        return max(delays)

    async def release(self, tokens: int, *, rate_limited: bool) -> None:
        """Return the slot; adapt the limit; count tokens against the TPM window."""
        async with self._cond:
            self.in_flight -= 1
            if rate_limited:
                self.limit = max(1.0, self.limit / 2)
                self.backoffs += 1
            elif self.limit < self.max_concurrency:
                self.limit = min(float(self.max_concurrency), self.limit + 1 / self.limit)
            if self.tpm and tokens:
                self._tokens.append((time.monotonic(), tokens))
            self._cond.notify_all()


@dataclass
class Endpoint:
    """One provider endpoint: a shared AsyncOpenAI client and its request limiter."""

    provider: Provider
    client: openai.AsyncOpenAI
    limiter: RequestLimiter
    timeout_s: float = 60.0
    """The client's per-request timeout (the simulator's `timeout` fault waits longer)."""

    @classmethod
    def open(
        cls,
        provider: Provider,
        base_url: str,
        concurrency: int,
        timeout_s: float,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
    ) -> Endpoint:
        """Create the client. The key comes from the environment only."""
        key = provider.api_key() or "not-needed"
        # the SDK's aiohttp transport: ~20% less CPU per request than its default httpx
        # pool (benchmarks/minimal.py); its pool allows far more connections than any
        # concurrency here: the limiter below is what bounds requests in flight
        client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=key,
            max_retries=0,  # retries happen here so each attempt is recorded
            timeout=timeout_s,
            http_client=openai.DefaultAioHttpClient(),  # the timeout above goes with each request
        )
        return cls(
            provider=provider,
            client=client,
            limiter=RequestLimiter(concurrency, rpm, tpm),
            timeout_s=timeout_s,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()


_NOT_SENT = CallRecord(
    started_at=datetime(1970, 1, 1, tzinfo=UTC), latency_s=0, usage=Usage(), cost_usd=Decimal(0)
)
"""What `CallGuard.release` is given for an attempt that never reached the provider."""


def _retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _chars(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"), default=str))


def estimate_tokens(chars: int) -> int:
    """Rough token count (4 characters a token) where a provider reports none."""
    return math.ceil(chars / 4)


def prompt_estimate(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    """Estimated prompt tokens of a request."""
    return estimate_tokens(_chars(messages) + (_chars(tools) if tools else 0))


def _usage_is_valid(data: Mapping[str, Any]) -> bool:
    block = find_usage_block(data)
    if block is None:
        return False
    return all(
        isinstance(block.get(k), int) and not isinstance(block.get(k), bool)
        for k in ("prompt_tokens", "completion_tokens")
    ) or all(
        isinstance(block.get(k), int) for k in ("prompt_cache_hit_tokens", "completion_tokens")
    )


def stream_response(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """A streamed response as the JSON body a non-streamed one would have been: the assembled
    message and finish reason, and the raw `usage` and `timings` of the chunks that carried
    them (the last ones), so the same code reads both. An `error` event in the stream
    (llama.cpp sends one, with HTTP 200, when it cannot parse the model's output) comes back
    as the body `{"error": ...}`."""
    for chunk in chunks:
        if "error" in chunk and not chunk.get("choices"):
            return {"error": chunk["error"]}
    assembled = assemble_stream(chunks)
    data: dict[str, Any] = {
        "choices": [{"message": assembled.message, "finish_reason": assembled.finish_reason}],
        "model": assembled.model,
    }
    for chunk in chunks:
        block = find_usage_block(chunk)
        if block is not None:
            data["usage"] = dict(block)
        if isinstance(chunk.get("timings"), Mapping):
            data["timings"] = chunk["timings"]
    return data


def _stream_error(data: Mapping[str, Any]) -> tuple[int, Any] | None:
    """(HTTP status it stands for, body) of an error event sent inside a 200 stream."""
    err = data.get("error")
    if not isinstance(err, Mapping) or "choices" in data:
        return None
    code = err.get("code")
    return (code if isinstance(code, int) and code >= 400 else 500), data


def _timings(data: Mapping[str, Any]) -> ServerTimings | None:
    raw = data.get("timings")
    if not isinstance(raw, Mapping):
        return None
    try:
        return ServerTimings.model_validate(raw)
    except ValueError:  # a server's odd timings must not lose the call
        return None


def _status_body(exc: openai.APIStatusError) -> Any:
    try:
        return json.loads(exc.response.content)
    except Exception:  # unread or not JSON: fall back to what the SDK parsed
        return exc.body


@dataclass
class ChatModel:
    """A model as one trial sees it: `complete(messages, tools)` returns the assistant message
    to append, and records a CallRecord for every attempt."""

    endpoint: Endpoint
    model_id: str
    price: Pricer | PriceCard | None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    trial: int = 0
    max_retries: int = 4
    fx: FxTable = DEFAULT_FX
    role: CallRole = CallRole.AGENT
    cache: ResponseCache | None = None
    faults_header: str | None = None
    """Simulator only: the fault spec sent with each request."""
    on_call: Callable[[CallRecord], None] | None = None
    """Called with every CallRecord as it is made (the journal's crash trail)."""
    guard: CallGuard | None = None
    """The trial's limits, checked before every request (steps, tokens, the spend cap)."""
    stream: bool = False
    """Ask for a streamed response (SSE with `stream_options.include_usage`); it is read to
    the end and assembled, then handled like a non-streamed one."""
    calls: list[CallRecord] = field(default_factory=list)
    backoff_base_s: float = 0.5
    pending: int = 0
    """Calls in progress (waiting for a slot, the provider or a retry)."""

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

    def _request(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        provider = self.endpoint.provider
        body: dict[str, Any] = {"model": self.model_id, "messages": messages}
        if tools:
            body["tools"] = tools
        for key, value in self.params.items():
            if key == "max_tokens":
                body[provider.max_tokens_param] = value
            else:
                body[key] = value
        if self.seed is not None and provider.sends_seed:
            # the trial's identity travels on the wire, provider-neutrally: any server that
            # takes OpenAI's `seed` (a local one, or `roibench sim` behind provider "local")
            # varies from trial to trial and repeats a trial exactly
            body["seed"] = self.seed
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _headers(self, attempt: int) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        provider = self.endpoint.provider
        if provider.sends_seed:
            headers[ATTEMPT_HEADER] = str(attempt)
            # a `timeout` fault of a simulator answers later than this client waits
            headers[TIMEOUT_HEADER] = f"{self.endpoint.timeout_s:g}"
        if provider.simulated and self.faults_header:
            headers[FAULTS_HEADER] = self.faults_header
        return headers

    def _role(self, role: CallRole | str | None) -> CallRole:
        """The call role, checked: a role outside the taxonomy is a bug in the agent."""
        if role is None:
            return self.role
        try:
            return CallRole(role)
        except ValueError:
            allowed = ", ".join(r.value for r in CallRole)
            raise ValueError(f"unknown call role {role!r} (one of: {allowed})") from None

    async def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        role: CallRole | str | None = None,
    ) -> dict[str, Any]:
        """One assistant turn. Raises LLMError once retries are exhausted or the error is final.

        `role`: what the call is for, recorded on its CallRecord (default: this model's role,
        'agent'); e.g. 'planner' or 'verifier' for an agent's calls that do not act, so their
        spend shows apart (`<role>_spend_usd`) while still counting in the cell's spend."""
        self.pending += 1
        try:
            return await self._complete(messages, tools, self._role(role))
        finally:
            self.pending -= 1

    async def _complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], role: CallRole
    ) -> dict[str, Any]:
        guard = self.guard
        if guard is not None:
            await guard.begin(role)
        body = self._request(messages, tools)
        extra_body = body.pop("extra_body", None)
        payload = json.dumps({**body, **(extra_body or {})}, separators=(",", ":")).encode()
        key = None
        if self.cache is not None:
            key = cache_key(
                self.endpoint.provider.name, self.model_id, messages, tools,
                {k: v for k, v in body.items() if k not in ("model", "messages", "tools")},
                self.trial,
            )  # fmt: skip
            hit = self.cache.get(key)
            if hit is not None:
                data, cost, latency = hit
                return self._accept(
                    data, datetime.now(UTC), latency, cached_cost=(cost,), role=role
                )
        limiter = self.endpoint.limiter
        # only a TPM window needs the prompt size up front; JSON-encoding the whole
        # conversation on every call is otherwise wasted work on the hot path
        estimate = prompt_estimate(messages, tools) if limiter.tpm else 0
        attempt = 0
        while True:
            held = Decimal(0)
            if guard is not None:
                held = await guard.reserve(self._worst_case_usd(len(payload)))
            try:
                await limiter.acquire(estimate)
            except BaseException:
                if guard is not None:
                    await guard.release(held, _NOT_SENT)
                raise
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            info: ErrorInfo | None = None
            retry_after: float | None = None
            data: dict[str, Any] = {}
            try:
                # the client's low-level post with a body we encode once: the same wire
                # request as chat.completions.create, without the SDK re-walking the whole
                # conversation through its TypedDict transforms on every call
                body_bytes = await self.endpoint.client.post(
                    "/chat/completions",
                    cast_to=bytes,
                    content=payload,
                    options={"headers": self._headers(attempt)},
                )
                if self.stream:
                    data = stream_response(parse_sse(body_bytes.decode("utf-8")))
                    streamed_error = _stream_error(data)
                    if streamed_error is not None:
                        info = classify_status(self.endpoint.provider, *streamed_error)
                else:
                    data = json.loads(body_bytes)
                if info is None:
                    info = classify_body(self.endpoint.provider, data)
            except openai.APIStatusError as exc:
                info = classify_status(self.endpoint.provider, exc.status_code, _status_body(exc))
                retry_after = _retry_after_s(exc.response.headers)
            except openai.APITimeoutError:
                info = ErrorInfo(ErrorClass.TIMEOUT, True, "no response within the timeout")
            except (openai.APIConnectionError, ValueError) as exc:
                info = ErrorInfo(ErrorClass.API_ERROR, True, f"{type(exc).__name__}")
            except BaseException:  # cancelled mid-request (trial timeout, Ctrl-C)
                await limiter.release(0, rate_limited=False)
                if guard is not None:
                    await guard.release(held, _NOT_SENT)
                raise
            if info is None:
                turn = self._accept(
                    data,
                    started,
                    time.perf_counter() - t0,
                    attempt=attempt,
                    request=(messages, tools),
                    role=role,
                )
                await limiter.release(self.calls[-1].usage.total_tokens, rate_limited=False)
                if guard is not None:
                    await guard.release(held, self.calls[-1])
                if key is not None and self.cache is not None:
                    self.cache.put(key, data, self.calls[-1].cost_usd, self.calls[-1].latency_s)
                return turn
            await limiter.release(0, rate_limited=info.error_class == "rate_limited")
            self._record_failure(started, t0, info.error_class, attempt, role)
            if guard is not None:
                await guard.release(held, self.calls[-1])
            if not info.retryable or attempt >= self.max_retries:
                provider = self.endpoint.provider
                hint = ""
                if info.error_class == "auth" and provider.api_key_env:
                    hint = f" — check {provider.api_key_env}"
                raise LLMError(
                    info.error_class,
                    f"{provider.name} {self.model_id}: {info.error_class} after {attempt + 1} "
                    f"attempt(s): {info.message}{hint}",
                    retryable=info.retryable,
                )
            await self._backoff(attempt, retry_after)
            attempt += 1

    def _worst_case_usd(self, request_bytes: int) -> Decimal | None:
        """What the request can cost at most, for the spend cap: the prompt (a token per 4
        bytes of the request, all uncached) and `max_tokens` of output (DEFAULT_OUTPUT_RESERVE
        when unset), at the price in force now."""
        if self.price is None:
            return None
        max_out = self.params.get("max_tokens") or DEFAULT_OUTPUT_RESERVE
        usage = Usage(
            input_tokens=estimate_tokens(request_bytes), output_tokens=int(max_out), requests=1
        )
        return call_cost_usd(usage, self.price, datetime.now(UTC), self.fx)

    def _add_call(self, record: CallRecord) -> None:
        self.calls.append(record)
        if self.guard is not None:
            self.guard.observe(record)
        if self.on_call is not None:
            self.on_call(record)

    def _record_failure(
        self, started: datetime, t0: float, error_class: ErrorClass, attempt: int, role: CallRole
    ) -> None:
        record = CallRecord(
            role=role,
            started_at=started,
            latency_s=time.perf_counter() - t0,
            usage=Usage(requests=1),
            # a failed request is not billed; priced models record that as $0
            cost_usd=Decimal(0) if self.price is not None else None,
            error=error_class,
            attempt=attempt,
        )
        if isinstance(self.price, ComputePricer):
            # a self-hosted machine is paid for the time a failed request held it, too
            record = record.model_copy(update={"cost_usd": self.price.cost_for(record.busy_s)})
        self._add_call(record)

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        delay = self.backoff_base_s * (2**attempt) * (0.5 + random.random())
        if retry_after is not None:
            delay = max(delay, retry_after)
        await asyncio.sleep(min(delay, 60.0))

    def _accept(
        self,
        data: dict[str, Any],
        started: datetime,
        latency: float,
        *,
        attempt: int = 0,
        request: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
        cached_cost: tuple[Decimal | None] | None = None,
        role: str | None = None,
    ) -> dict[str, Any]:
        choices = data.get("choices") or [{}]
        choice = choices[0] if isinstance(choices[0], Mapping) else {}
        message = choice.get("message") or {}
        content = message.get("content") or ""
        reasoning = reasoning_text(message)
        if "<think>" in content:
            content, think = split_think(content)
            reasoning = reasoning or think
        tool_calls = message.get("tool_calls") or []
        estimated = not _usage_is_valid(data)
        if estimated:
            usage = Usage(
                input_tokens=prompt_estimate(*request) if request else 0,
                output_tokens=estimate_tokens(len(content) + len(reasoning) + _chars(tool_calls)),
                requests=1,
            )
        else:
            usage = normalize_usage(data) or Usage(requests=1)
        timings = _timings(data)
        if cached_cost is not None:
            cost = cached_cost[0]
        elif isinstance(self.price, ComputePricer):
            cost = self.price.cost_for(busy_seconds(timings, latency))
        else:
            cost = call_cost_usd(usage, self.price, started, self.fx)
        self._add_call(
            CallRecord(
                role=self._role(role),
                started_at=started,
                latency_s=latency,
                usage=usage,
                cost_usd=cost,
                finish_reason=choice.get("finish_reason"),
                attempt=attempt,
                cached=cached_cost is not None,
                usage_estimated=estimated,
                timings=timings,
            )
        )
        turn: dict[str, Any] = {"role": "assistant", "content": content}
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
