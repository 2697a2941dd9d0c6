"""The request limiter: adaptive concurrency and RPM/TPM windows."""

from __future__ import annotations

import asyncio

import pytest

from roibench.model.client import RequestLimiter


def test_rate_limit_halves_concurrency_and_success_grows_it_back() -> None:
    async def scenario() -> list[float]:
        limiter = RequestLimiter(8)
        seen = []
        await limiter.acquire(0)
        await limiter.release(0, rate_limited=True)
        seen.append(limiter.limit)  # 8 -> 4
        await limiter.acquire(0)
        await limiter.release(0, rate_limited=True)
        seen.append(limiter.limit)  # 4 -> 2
        for _ in range(2):  # additive increase: +1/limit per success
            await limiter.acquire(0)
            await limiter.release(0, rate_limited=False)
        seen.append(limiter.limit)
        return seen

    four, two, grown = asyncio.run(scenario())
    assert (four, two) == (4.0, 2.0)
    # by hand: 2 + 1/2 = 2.5, then 2.5 + 1/2.5 = 2.9
    assert grown == pytest.approx(2.9)


def test_halved_limit_holds_back_requests() -> None:
    async def scenario() -> bool:
        limiter = RequestLimiter(2)
        await limiter.acquire(0)
        await limiter.release(0, rate_limited=True)  # limit 1
        await limiter.acquire(0)  # the one slot is taken
        try:
            await asyncio.wait_for(limiter.acquire(0), timeout=0.05)
        except TimeoutError:
            return True
        return False

    assert asyncio.run(scenario())


def test_rpm_window_blocks_the_request_over_the_limit() -> None:
    async def scenario() -> bool:
        limiter = RequestLimiter(10, rpm=2)
        for _ in range(2):
            await limiter.acquire(0)
            await limiter.release(0, rate_limited=False)
        try:  # the third start in the same minute must wait for the window (~60 s)
            await asyncio.wait_for(limiter.acquire(0), timeout=0.05)
        except TimeoutError:
            return limiter.in_flight == 0  # the abandoned wait gave its slot back
        return False

    assert asyncio.run(scenario())


def test_tpm_window_counts_tokens_used() -> None:
    async def scenario() -> tuple[bool, bool]:
        limiter = RequestLimiter(10, tpm=1000)
        await limiter.acquire(600)
        await limiter.release(600, rate_limited=False)
        await limiter.acquire(300)  # 600 + 300 <= 1000: goes
        await limiter.release(300, rate_limited=False)
        try:  # 900 used + 200 estimated > 1000: waits for the window
            await asyncio.wait_for(limiter.acquire(200), timeout=0.05)
            blocked = False
        except TimeoutError:
            blocked = True
        return True, blocked

    went, blocked = asyncio.run(scenario())
    assert went and blocked
