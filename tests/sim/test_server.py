"""The simulator over real HTTP with the official OpenAI client."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from roibench.config.tasks import Task
from roibench.core.usage import normalize_usage
from roibench.sim.server import SimServer


def client(server: SimServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)


def opening(task: Task) -> list[dict[str, object]]:
    return [{"role": "system", "content": "policy"}, {"role": "user", "content": task.prompt}]


TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in (
        "lookup_customer",
        "get_order",
        "issue_refund",
        "issue_store_credit",
        "escalate_to_human",
    )
]


def test_plays_reference_first_action_as_a_real_tool_call(
    sim_server: SimServer, refunds_tasks: tuple[Task, ...]
) -> None:
    task = refunds_tasks[0]
    resp = client(sim_server).chat.completions.create(
        model="sim/frontier",
        messages=opening(task),  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        seed=1,
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == task.reference_actions[0].tool  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == task.reference_actions[0].args  # type: ignore[union-attr]


def test_usage_dialects(sim_server: SimServer, refunds_tasks: tuple[Task, ...]) -> None:
    task = refunds_tasks[0]
    messages = [
        *opening(task),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup_customer", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "x" * 4000},
    ]
    with httpx.Client() as http:
        deepseek = http.post(
            f"{sim_server.base_url}/chat/completions",
            json={"model": "sim/balanced", "messages": messages, "tools": TOOLS},
        ).json()
        openai_style = http.post(
            f"{sim_server.base_url}/chat/completions",
            json={"model": "sim/frontier", "messages": messages, "tools": TOOLS},
        ).json()
    u = deepseek["usage"]
    assert u["prompt_cache_hit_tokens"] + u["prompt_cache_miss_tokens"] == u["prompt_tokens"]
    assert u["prompt_cache_hit_tokens"] > 0 and u["prompt_cache_hit_tokens"] % 64 == 0
    assert "prompt_cache_hit_tokens" not in openai_style["usage"]
    assert openai_style["usage"]["prompt_tokens_details"]["cached_tokens"] > 0
    norm = normalize_usage(deepseek)
    assert norm is not None and norm.cache_read_tokens == u["prompt_cache_hit_tokens"]
    assert norm.reasoning_tokens == 96  # sim/balanced reasons
    assert deepseek["choices"][0]["message"]["reasoning_content"]


def test_deterministic_for_a_seed(sim_server: SimServer, refunds_tasks: tuple[Task, ...]) -> None:
    body = {
        "model": "sim/budget",
        "messages": opening(refunds_tasks[3]),
        "tools": TOOLS,
        "seed": 42,
    }
    with httpx.Client() as http:
        a = http.post(f"{sim_server.base_url}/chat/completions", json=body).json()
        b = http.post(f"{sim_server.base_url}/chat/completions", json=body).json()
    assert a == b


def test_profiles_deviate_at_different_rates(refunds_tasks: tuple[Task, ...]) -> None:
    from roibench.sim.player import SimPlayer
    from roibench.sim.profiles import PROFILES

    player = SimPlayer(refunds_tasks)
    names = {
        "lookup_customer",
        "get_order",
        "issue_refund",
        "issue_store_credit",
        "escalate_to_human",
    }
    deviating = {}
    for profile in PROFILES.values():
        plans = [player.plan(t, profile, seed, names) for t in refunds_tasks for seed in range(10)]
        deviating[profile.name] = sum(p.deviation != "reference" for p in plans)
    assert deviating["frontier"] < deviating["balanced"] < deviating["budget"]


def test_streaming_with_usage_chunk(sim_server: SimServer, refunds_tasks: tuple[Task, ...]) -> None:
    stream = client(sim_server).chat.completions.create(
        model="sim/frontier",
        messages=opening(refunds_tasks[0]),  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    names = [
        tc.function.name for c in chunks for ch in c.choices for tc in (ch.delta.tool_calls or [])
    ]
    assert names == [refunds_tasks[0].reference_actions[0].tool]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens > 0


def test_unknown_model_is_a_404_in_openai_shape(sim_server: SimServer) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client(sim_server).chat.completions.create(
            model="gpt-nope", messages=[{"role": "user", "content": "hi"}]
        )
    assert "does not exist" in str(info.value)


def test_unknown_conversation_gets_a_plain_answer(sim_server: SimServer) -> None:
    resp = client(sim_server).chat.completions.create(
        model="sim/frontier", messages=[{"role": "user", "content": "What's the weather?"}]
    )
    assert resp.choices[0].message.content and not resp.choices[0].message.tool_calls


def test_models_listing(sim_server: SimServer) -> None:
    ids = [m.id for m in client(sim_server).models.list()]
    assert ids == ["sim/frontier", "sim/balanced", "sim/budget"]


def test_stats_count_the_chat_requests_it_served(sim_server: SimServer) -> None:
    """`GET /stats` counts chat-completion requests (the benchmarks compare clients by it);
    other routes (the models listing, /stats itself) are not counted."""
    base = sim_server.base_url.removesuffix("/v1")
    c = client(sim_server)
    c.models.list()
    hello = [{"role": "user", "content": "hi"}]
    for _ in range(3):
        c.chat.completions.create(model="sim/frontier", messages=hello)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):  # answered with a 404, still a request received
        c.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "hi"}])
    first = httpx.get(f"{base}/stats").json()
    assert first == {"requests": 4, "faults_injected": 0}
    assert httpx.get(f"{sim_server.base_url}/stats").json() == first
