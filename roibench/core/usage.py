"""Token usage: one additive type, and normalisation of each provider's usage dialect."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

UsageDialect = Literal["openai", "deepseek", "moonshot", "minimax"]
"""Where a provider's response reports cached and reasoning tokens (see normalize_usage)."""


class Usage(BaseModel):
    """Token counts of one or more LLM calls. `Usage + Usage` adds them up.

    `input_tokens` includes cache reads and writes; `output_tokens` includes reasoning tokens,
    which are billed at the output rate and must not be added again.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: int = Field(default=0, ge=0, description="Prompt tokens, cached ones included.")
    cache_read_tokens: int = Field(default=0, ge=0, description="Prompt tokens served from cache.")
    cache_write_tokens: int = Field(default=0, ge=0, description="Prompt tokens written to cache.")
    output_tokens: int = Field(
        default=0, ge=0, description="Completion tokens, reasoning included."
    )
    reasoning_tokens: int = Field(default=0, ge=0, description="Reasoning tokens (inside output).")
    requests: int = Field(default=0, ge=0, description="Number of API requests.")

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            requests=self.requests + other.requests,
        )

    def __radd__(self, other: object) -> Usage:
        # lets sum() start from 0
        if other == 0:
            return self
        if isinstance(other, Usage):
            return other + self
        return NotImplemented

    @property
    def uncached_input_tokens(self) -> int:
        """Prompt tokens billed at the full input rate."""
        return max(self.input_tokens - self.cache_read_tokens - self.cache_write_tokens, 0)

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


def _int(value: Any) -> int:
    """A token count from a raw field; providers sometimes send null, strings or floats."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float):
        return max(int(value), 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def find_usage_block(response: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The usage object of a response or stream chunk, wherever the provider put it.

    OpenAI-style responses carry it at the top level; Kimi's streamed chunks carry it inside
    `choices[0].usage`.
    """
    usage = response.get("usage")
    if isinstance(usage, Mapping):
        return usage
    choices = response.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            inner = _mapping(choice).get("usage")
            if isinstance(inner, Mapping):
                return inner
    return None


def normalize_usage(response: Mapping[str, Any]) -> Usage | None:
    """Read the usage of one raw chat-completion response (or final stream chunk).

    Understands every dialect in the provider table: DeepSeek's prompt_cache_hit/miss_tokens,
    OpenAI's prompt_tokens_details.cached_tokens / cache_write_tokens and
    completion_tokens_details.reasoning_tokens, Qwen's cache_creation_input_tokens,
    Moonshot's top-level cached_tokens. Returns None when the response carries no usage.
    """
    block = find_usage_block(response)
    if block is None:
        return None
    prompt_details = _mapping(block.get("prompt_tokens_details"))
    completion_details = _mapping(block.get("completion_tokens_details"))

    prompt = _int(block.get("prompt_tokens"))
    hit = _int(block.get("prompt_cache_hit_tokens"))
    miss = _int(block.get("prompt_cache_miss_tokens"))
    if prompt == 0 and (hit or miss):
        prompt = hit + miss
    cache_read = max(
        hit,
        _int(prompt_details.get("cached_tokens")),
        _int(block.get("cached_tokens")),
    )
    cache_write = max(
        _int(prompt_details.get("cache_write_tokens")),
        _int(prompt_details.get("cache_creation_input_tokens")),
    )
    output = _int(block.get("completion_tokens"))
    reasoning = _int(completion_details.get("reasoning_tokens"))
    return Usage(
        input_tokens=prompt,
        cache_read_tokens=min(cache_read, prompt),
        cache_write_tokens=min(cache_write, max(prompt - cache_read, 0)),
        output_tokens=output,
        reasoning_tokens=min(reasoning, output) if output else reasoning,
        requests=1,
    )


_THINK = re.compile(r"<think>(.*?)</think>\s*", re.DOTALL)


def split_think(content: str) -> tuple[str, str]:
    """Split `<think>…</think>` reasoning (MiniMax M2 style) out of message content.

    Returns (answer, reasoning). An unclosed `<think>` at the start is all reasoning.
    """
    reasoning_parts = [m.group(1) for m in _THINK.finditer(content)]
    answer = _THINK.sub("", content)
    stripped = answer.lstrip()
    if stripped.startswith("<think>"):
        reasoning_parts.append(stripped[len("<think>") :])
        answer = ""
    return answer.strip(), "\n".join(part.strip() for part in reasoning_parts)


def reasoning_text(message: Mapping[str, Any]) -> str:
    """Reasoning text a provider sent beside the answer, in any of the known fields."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    details = message.get("reasoning_details")
    if isinstance(details, list):
        texts = [str(_mapping(d).get("text", "")) for d in details]
        return "\n".join(t for t in texts if t)
    return ""


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The JSON chunks of a Server-Sent Events body (`data: {...}` lines; `[DONE]` ends it)."""
    import json

    chunks: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("data:"):
            continue
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            break
        if payload:
            obj = json.loads(payload)
            if isinstance(obj, dict):
                chunks.append(obj)  # pyright: ignore[reportUnknownArgumentType]
    return chunks


class StreamedResponse(BaseModel):
    """A streamed chat completion put back together: the assistant message and its usage."""

    model_config = ConfigDict(frozen=True)

    message: dict[str, Any] = Field(description="role, content, reasoning, tool_calls.")
    usage: Usage | None = Field(description="From the chunk that carried it; None if none did.")
    finish_reason: str | None = None
    model: str | None = None


def assemble_stream(chunks: list[dict[str, Any]]) -> StreamedResponse:
    """Rebuild the message and usage of a streamed response from its chunks, in order.

    Content and reasoning deltas are concatenated (`reasoning_content`, StepFun's `reasoning`);
    tool-call deltas are merged by `index` (ids and names arrive once, arguments in pieces).
    Usage is taken from the last chunk that carries any: a final `choices: []` chunk (OpenAI,
    Qwen), the `finish_reason` chunk (DeepSeek, GLM) or `choices[0].usage` (Kimi).
    """
    content: list[str] = []
    reasoning: dict[str, list[str]] = {}
    tools: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    model: str | None = None
    usage: Usage | None = None
    for chunk in chunks:
        model = chunk.get("model") or model
        found = normalize_usage(chunk)
        if found is not None:
            usage = found
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            continue
        for choice in choices:  # pyright: ignore[reportUnknownVariableType]
            choice_map = _mapping(choice)
            if choice_map.get("finish_reason"):
                finish = str(choice_map["finish_reason"])
            delta = _mapping(choice_map.get("delta"))
            piece = delta.get("content")
            if isinstance(piece, str):
                content.append(piece)
            for key in ("reasoning_content", "reasoning"):
                text = delta.get(key)
                if isinstance(text, str) and text:
                    reasoning.setdefault(key, []).append(text)
            raw_calls = delta.get("tool_calls")
            if isinstance(raw_calls, list):
                for position, raw in enumerate(raw_calls):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
                    call = _mapping(raw)
                    index = call.get("index", position)
                    slot = tools.setdefault(
                        index if isinstance(index, int) else position,
                        {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                    )
                    if call.get("id"):
                        slot["id"] = call["id"]
                    function = _mapping(call.get("function"))
                    if function.get("name"):
                        slot["function"]["name"] = function["name"]
                    if isinstance(function.get("arguments"), str):
                        slot["function"]["arguments"] += function["arguments"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    for key, parts in reasoning.items():
        message[key] = "".join(parts)
    if tools:
        message["tool_calls"] = [tools[i] for i in sorted(tools)]
    return StreamedResponse(message=message, usage=usage, finish_reason=finish, model=model)
