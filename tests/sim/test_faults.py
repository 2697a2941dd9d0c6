"""Fault specs and their injection over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from roibench.config.tasks import Task
from roibench.core.faults import FaultSpec
from roibench.sim.server import SimServer


def test_parse_short_and_long_names() -> None:
    spec = FaultSpec.parse("429=0.1, 500=0.05,timeout=0.02,malformed=0.02,usage_bad=0.01")
    assert spec.rate_limit == 0.1 and spec.server_error == 0.05 and spec.slow == 0.02
    assert spec.malformed_tool_args == 0.02 and spec.usage_wrong_type == 0.01
    assert FaultSpec.parse(spec.header()) == spec
    assert spec.any and not FaultSpec().any


@pytest.mark.parametrize("text", ["429", "teapot=0.1", "429=2"])
def test_parse_errors(text: str) -> None:
    with pytest.raises(ValueError):
        FaultSpec.parse(text)


def test_every_request_fails_at_rate_one(refunds_tasks: tuple[Task, ...]) -> None:
    server = SimServer(
        refunds_tasks, faults=FaultSpec(rate_limit=1.0, retry_after_s=3)
    ).start_in_thread()
    try:
        body = {
            "model": "sim/frontier",
            "messages": [{"role": "user", "content": refunds_tasks[0].prompt}],
        }
        r = httpx.post(f"{server.base_url}/chat/completions", json=body)
        assert r.status_code == 429 and r.headers["retry-after"] == "3"
        assert r.json()["error"]["type"] == "rate_limit_exceeded"
        # the per-request header overrides the server default
        ok = httpx.post(f"{server.base_url}/chat/completions", json=body,
                        headers={"x-roibench-faults": "usage_missing=1"})  # fmt: skip
        assert ok.status_code == 200 and "usage" not in ok.json()
    finally:
        server.stop_thread()


def test_draws_are_deterministic_per_attempt(refunds_tasks: tuple[Task, ...]) -> None:
    server = SimServer(refunds_tasks).start_in_thread()
    try:
        body = {"model": "sim/budget", "seed": 5,
                "messages": [{"role": "user", "content": refunds_tasks[1].prompt}]}  # fmt: skip
        statuses = {}
        for attempt in range(30):
            h = {"x-roibench-faults": "500=0.5", "x-roibench-attempt": str(attempt)}
            first = httpx.post(
                f"{server.base_url}/chat/completions", json=body, headers=h
            ).status_code
            again = httpx.post(
                f"{server.base_url}/chat/completions", json=body, headers=h
            ).status_code
            assert first == again
            statuses[attempt] = first
        assert {200, 500} == set(statuses.values())  # a retry gets a fresh draw
    finally:
        server.stop_thread()


def test_connection_reset(refunds_tasks: tuple[Task, ...]) -> None:
    server = SimServer(refunds_tasks, faults=FaultSpec(connection_reset=1.0)).start_in_thread()
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(
                f"{server.base_url}/chat/completions", json={"model": "sim/budget", "messages": []}
            )
    finally:
        server.stop_thread()


def test_a_timeout_fault_outlasts_the_clients_timeout() -> None:
    spec = FaultSpec(slow=1.0)
    assert spec.slow_delay_s(60.0) == 61.0  # roibench's default timeout: 61 s late
    assert spec.slow_delay_s(0.5) == 1.5
    assert spec.slow_delay_s(None) == 61.0  # a client that does not say waits 60 s
    assert FaultSpec(slow=1.0, slow_s=2.0).slow_delay_s(60.0) == 2.0  # explicit: as given


def test_a_timeout_fault_is_a_timeout_for_a_client_waiting_longer_than_5_s(
    refunds_tasks: tuple[Task, ...],
) -> None:
    """The simulator used to answer a `timeout` fault after 5 s, so a client waiting longer
    never saw one; now it answers after the client's own timeout."""
    import asyncio

    from roibench.model.client import ChatModel, Endpoint, LLMError
    from roibench.model.providers import PRESETS

    server = SimServer(refunds_tasks).start_in_thread()

    async def call() -> ChatModel:
        endpoint = Endpoint.open(PRESETS["sim"], server.base_url, 4, timeout_s=5.5)
        llm = ChatModel(endpoint, "sim/balanced", None, max_retries=0, faults_header="slow=1")
        try:
            with pytest.raises(LLMError) as info:
                await llm.complete([{"role": "user", "content": refunds_tasks[0].prompt}], [])
            assert info.value.error_class == "timeout"
            return llm
        finally:
            await endpoint.aclose()

    try:
        llm = asyncio.run(call())
    finally:
        server.stop_thread()
    assert [c.error for c in llm.calls] == ["timeout"]
