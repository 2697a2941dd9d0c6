"""What a run records: one CallRecord per LLM request, one TrialRecord per trial."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roibench.core.outcomes import Outcome
from roibench.core.usage import Usage


class CallRole(StrEnum):
    """Who made an LLM call. All are inside the cell's spend; each also shows apart."""

    AGENT = "agent"
    """The acting agent's turns."""
    PLANNER = "planner"
    """A planning call (plan_execute's plan and replan)."""
    VERIFIER = "verifier"
    """A review call (self_check's verifier)."""
    USER_SIM = "user_sim"
    """A user simulator answering as the customer (multi-turn workflows)."""


class ErrorClass(StrEnum):
    """The error taxonomy: why a call failed or a trial did not finish as the agent meant."""

    RATE_LIMITED = "rate_limited"
    """Throttled (HTTP 429, provider-specific throttle bodies): retried."""
    API_ERROR = "api_error"
    """Server-side failure (HTTP 5xx, dropped connection): retried."""
    TIMEOUT = "timeout"
    """No full response within the model's `timeout_s`: retried."""
    BILLING = "billing"
    """Out of credit or quota: final, stops the cell."""
    AUTH = "auth"
    """Key missing, wrong or not allowed: final."""
    NOT_FOUND = "not_found"
    """The provider has no such model (HTTP 404): final; a cell whose trials all get it
    stops early."""
    BAD_REQUEST = "bad_request"
    """The provider refused the request (HTTP 400/422): final."""
    CONTEXT_OVERFLOW = "context_overflow"
    """The prompt exceeds the model's context window (llama.cpp HTTP 400
    `exceed_context_size_error`, OpenAI-style "maximum context length"): final, a retry
    fails the same way."""
    SERVER_LOADING = "server_loading"
    """The server is still loading its model (llama.cpp HTTP 503 "Loading model"): retried."""
    STEP_LIMIT = "step_limit"
    """The agent used up its `max_steps` model turns (checked before every call)."""
    TOKEN_LIMIT = "token_limit"
    """The agent used up its token budget (`max_tokens_per_trial`; checked before every
    call)."""
    BUDGET_EXCEEDED = "budget_exceeded"
    """The name of `token_limit` before issue 15 (read in older journals)."""
    BUDGET_EXHAUSTED = "budget_exhausted"
    """The run's spend cap (`--max-spend`) refused the trial's next request."""
    TRIAL_TIMEOUT = "trial_timeout"
    """The trial ran past `trial_timeout_s` and was cancelled."""
    HARNESS_ERROR = "harness_error"
    """A bug around the model: a tool raised something other than ToolError, the grader raised
    or returned no Outcome, agent code raised (outcome `harness_error`)."""
    INVALID_TOOL_CALL = "invalid_tool_call"
    """The agent made malformed or unknown tool calls (the trial is still graded); or, on a
    call, the server could not parse the model's output into a tool call, or could not render
    a conversation holding a call whose arguments are not JSON (llama.cpp HTTP 500): final for
    the trial, the same request fails the same way."""
    OUTPUT_TRUNCATED = "output_truncated"
    """A real model's last turn stopped at `max_tokens` (finish_reason `length`): its reply,
    or the tool call it was writing, was cut (the trial is still graded)."""
    NO_TOOL_CALL = "no_tool_call"
    """A real model answered in text without calling any tool on a task whose reference
    solution acts (the trial is still graded)."""
    AGENT_ERROR = "agent_error"
    """The agent's code raised (before issue 15: now `harness_error`)."""
    WORKER_LOST = "worker_lost"
    """A Ray worker running the trial died too many times."""

    @classmethod
    def of_stop_reason(cls, reason: str) -> ErrorClass:
        """An agent's `run.stop_reason` in the taxonomy; ValueError naming the allowed ones."""
        try:
            return cls(reason)
        except ValueError:
            allowed = ", ".join(c.value for c in (cls.STEP_LIMIT, cls.TOKEN_LIMIT))
            raise ValueError(
                f"agent stop reason {reason!r} is not in the error taxonomy (an agent stops on "
                f"{allowed}, or by ending its graph with no stop reason)"
            ) from None


class ServerTimings(BaseModel):
    """What a llama.cpp server measured for one request (its `timings` object), in ms."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    prompt_n: int = Field(default=0, ge=0, description="Prompt tokens evaluated (not cached).")
    prompt_ms: float = Field(default=0.0, ge=0, description="Prompt evaluation (prefill) time.")
    predicted_n: int = Field(default=0, ge=0, description="Tokens generated.")
    predicted_ms: float = Field(default=0.0, ge=0, description="Generation (decode) time.")
    cache_n: int = Field(default=0, ge=0, description="Prompt tokens reused from the KV cache.")

    @property
    def busy_ms(self) -> Decimal:
        """prompt_ms + predicted_ms, exactly as the server reported them."""
        return Decimal(repr(self.prompt_ms)) + Decimal(repr(self.predicted_ms))


class CallRecord(BaseModel):
    """One LLM request (every attempt, retries included)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: CallRole = Field(default=CallRole.AGENT, description="Who made the call.")

    started_at: datetime = Field(description="UTC time the request was sent (prices use it).")
    latency_s: float = Field(ge=0, description="Seconds until the full response arrived.")
    usage: Usage = Field(description="Normalised token usage.")
    cost_usd: Decimal | None = Field(description="Priced cost; None when no card prices it.")
    finish_reason: str | None = Field(default=None, description="As the provider reported it.")
    error: ErrorClass | None = Field(
        default=None, description="Error class when the request failed."
    )
    attempt: int = Field(default=0, ge=0, description="0 for the first try, n for the n-th retry.")
    cached: bool = Field(
        default=False, description="Served from the response cache (cost = original)."
    )
    usage_estimated: bool = Field(
        default=False, description="The provider sent no valid usage; tokens estimated from text."
    )
    timings: ServerTimings | None = Field(
        default=None, description="The server's own measurement (llama.cpp `timings`), if sent."
    )

    @property
    def busy_s(self) -> Decimal:
        """Seconds the call occupied the server, as self-hosted compute is priced: the
        server's prompt_ms + predicted_ms when it reported them, else the wall time."""
        return busy_seconds(self.timings, self.latency_s)


def busy_seconds(timings: ServerTimings | None, latency_s: float) -> Decimal:
    """(prompt_ms + predicted_ms) / 1000 from the server's timings, else the wall time —
    exactly the decimal figures the journal records."""
    if timings is not None:
        return timings.busy_ms / 1000
    return Decimal(repr(latency_s))


class ToolCallRecord(BaseModel):
    """One tool call the agent made, with its (truncated) result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    args: dict[str, Any]
    result: str = Field(description="What the tool returned (first 2,000 characters).")
    ok: bool = Field(description="False when the tool returned an error.")
    started_at: datetime | None = Field(
        default=None, description="UTC time the call began (traces)."
    )
    latency_s: float | None = Field(default=None, ge=0, description="Seconds the tool took.")


MAX_MESSAGE_CHARS = 4000
"""A recorded message's content is cut to this many characters (tool results: as recorded in
`ToolCallRecord.result`, 2,000), so a trial's transcript stays bounded in the journal."""

MAX_SYSTEM_CHARS = 1000
"""The system message (the workflow's policy, the same in every trial) is cut shorter."""


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


class MessageToolCall(BaseModel):
    """A tool call an assistant message asked for, as the model sent it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    arguments: str = Field(description="The JSON arguments text (bounded).")


class MessageRecord(BaseModel):
    """One message of a trial's conversation (OpenAI roles), bounded in size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str = Field(description="'system', 'user', 'assistant' or 'tool'.")
    content: str = Field(default="", description="Text, cut to MAX_MESSAGE_CHARS.")
    tool_calls: tuple[MessageToolCall, ...] = Field(
        default=(), description="What an assistant message asked the tools for."
    )
    tool_call_id: str | None = Field(default=None, description="The call a tool message answers.")

    @classmethod
    def of(cls, message: dict[str, Any]) -> MessageRecord:
        """The record of an OpenAI-format message dict (reasoning and other fields dropped)."""
        role = str(message.get("role") or "")
        limit = MAX_SYSTEM_CHARS if role == "system" else MAX_MESSAGE_CHARS
        content = message.get("content")
        calls = []
        for i, tc in enumerate(message.get("tool_calls") or ()):
            fn = tc.get("function") or {}
            args = fn.get("arguments")
            calls.append(
                MessageToolCall(
                    id=str(tc.get("id") or f"call_{i}"),
                    name=str(fn.get("name") or ""),
                    arguments=_bounded(args if isinstance(args, str) else str(args), limit),
                )
            )
        tool_call_id = message.get("tool_call_id")
        return cls(
            role=role,
            content=_bounded(content if isinstance(content, str) else str(content or ""), limit),
            tool_calls=tuple(calls),
            tool_call_id=None if tool_call_id is None else str(tool_call_id),
        )

    def as_message(self) -> dict[str, Any]:
        """Back to an OpenAI-format message dict (what graders read in `Transcript`)."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": tc.id,
                    "type": "function",
                    "function": {"name": tc.name, "arguments": tc.arguments},
                }
                for tc in self.tool_calls
            ]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


def record_messages(messages: list[dict[str, Any]]) -> tuple[MessageRecord, ...]:
    """A conversation as bounded records."""
    return tuple(MessageRecord.of(m) for m in messages if isinstance(m, dict))


class TrialRecord(BaseModel):
    """One trial: a task run once by one cell, graded. A line of the journal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cell: str = Field(description="'workflow/agent/model'.")
    workflow: str
    agent: str
    model: str = Field(description="Model label in the suite.")
    task_id: str
    tier: str
    trial: int = Field(ge=0, description="Trial index k (0-based) of this task in this cell.")
    seed: int = Field(description="Seed the trial ran with.")
    outcome: Outcome
    error_class: ErrorClass | None = Field(default=None, description="Error taxonomy entry.")
    calls: tuple[CallRecord, ...] = Field(description="Every LLM request of the trial.")
    usage: Usage = Field(description="Sum of the calls' usage.")
    cost_usd: Decimal | None = Field(description="Sum of call costs; None if any is unpriced.")
    steps: int = Field(ge=0, description="Agent model turns.")
    invalid_tool_calls: int = Field(default=0, ge=0, description="Malformed or unknown tool calls.")
    lost_calls: tuple[CallRecord, ...] = Field(
        default=(), description="Calls of earlier attempts of this trial lost in a crash (resume)."
    )
    tool_log: tuple[ToolCallRecord, ...] = Field(default=(), description="Tool calls in order.")
    started_at: datetime
    duration_s: float = Field(ge=0)
    reply: str = Field(default="", description="The agent's final reply (reasoning stripped).")
    messages: tuple[MessageRecord, ...] = Field(
        default=(), description="The conversation, bounded (older journals: empty)."
    )
    original_outcome: Outcome | None = Field(
        default=None,
        description="The outcome first graded, when `roibench regrade` replaced `outcome`.",
    )

    @property
    def fresh_cost_usd(self) -> Decimal:
        """What the trial cost this invocation: its priced calls not served from the cache
        (what a spend cap and the live spend count)."""
        fresh = (c.cost_usd for c in self.calls if c.cost_usd is not None and not c.cached)
        return sum(fresh, Decimal(0))

    @property
    def tool_calls(self) -> int:
        """Number of tool calls the agent made."""
        return len(self.tool_log)

    def tool_calls_by_name(self, names: frozenset[str]) -> int:
        """Number of successful calls to any of `names` (e.g. the workflow's write tools)."""
        return sum(1 for call in self.tool_log if call.ok and call.name in names)
