"""Limits enforced on every LLM request, not only when a trial starts.

- `SpendCap` is the run's `--max-spend`. Before a trial starts it must fit a running estimate
  of one trial for every trial in flight (so a cap does not start trials it would cut); before
  every request the request's worst-case cost (prompt at a token per 4 bytes, all uncached,
  plus `max_tokens` of output, priced by the model's card at that moment) must fit the cap
  beside the live spend and what the requests in flight hold. A request that does not fit
  waits for those in flight to settle, and when nothing else is in flight ends its trial as
  `budget_exhausted`. Spend can pass the cap only where a request costs more than it held (a
  prompt denser than 4 bytes a token), so by at most the cost of one request per concurrency
  slot.
- `TrialGuard` is one trial's view: its step and token budgets (checked before each model
  turn, whatever the agent does with `max_steps`) and its share of the cap. An agent that
  swallows the `LimitReached` it was given and keeps calling has its trial cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from roibench.core.records import CallRecord, CallRole, ErrorClass
from roibench.model.client import LimitReached

ZERO = Decimal(0)

USER_SIM_ROLE = CallRole.USER_SIM
"""Calls of a workflow's user simulator: they count against the spend cap, not the agent's
step and token budgets."""

SWALLOWED_LIMIT_CALLS = 3
"""Refused calls after which a trial whose agent ignores `LimitReached` is cancelled."""


class SpendCap:
    """`--max-spend` for one run (None: no cap, only the spend is counted)."""

    def __init__(self, cap: Decimal | None) -> None:
        self.cap = cap
        self.settled = ZERO
        """Fresh spend of finished trials (what the trial gate and a Ray budget count)."""
        self.live = ZERO
        """Fresh spend of every settled request so far (in-flight trials included)."""
        self.stopped = False
        """No further trial starts."""
        self._reserved = ZERO
        self._in_flight: dict[str, list[Decimal]] = {}
        self._costs: dict[str, tuple[Decimal, int]] = {}
        self._held = ZERO
        self._requests = 0
        self._cond = asyncio.Condition()

    @property
    def spent(self) -> Decimal:
        """Fresh spend so far."""
        return max(self.settled, self.live)

    # --- trials ---------------------------------------------------------------------------

    def _estimate(self, cell: str) -> Decimal | None:
        total, n = self._costs.get(cell, (ZERO, 0))
        if n:
            return total / n
        means = [t / c for t, c in self._costs.values() if c]
        return max(means) if means else None

    async def reserve(self, cell: str) -> bool:
        """True if a trial of `cell` may start now (waits while in-flight trials settle): the
        spend of finished trials plus a running estimate of one trial for every trial in flight
        and this one stays within the cap. The estimate is the cell's mean trial cost; a cell
        that has finished none runs one trial at a time (reserving the costliest known cell's
        mean) until it has, so a cheap cell finishing first cannot let a burst of expensive
        trials through."""
        if self.cap is None:
            return True
        async with self._cond:
            while True:
                if self.stopped:
                    return False
                busy = sum(len(v) for v in self._in_flight.values())
                estimate = self._estimate(cell)
                probing = self._costs.get(cell, (ZERO, 0))[1] == 0
                if self.live >= self.cap:
                    pass  # spent: nothing more starts (decided below once nothing is busy)
                elif probing and self._in_flight.get(cell):
                    pass  # one unmeasured trial per cell at a time: wait for it
                elif estimate is None:
                    if busy == 0 and self.spent < self.cap:
                        break
                elif self.settled + self._reserved + estimate <= self.cap:
                    break
                if busy == 0:
                    self.stopped = True
                    return False
                await self._cond.wait()
            held = estimate or ZERO
            self._reserved += held
            self._in_flight.setdefault(cell, []).append(held)
            return True

    async def release(self, cell: str, spent: Decimal) -> None:
        """A trial of `cell` finished having spent `spent` (fresh)."""
        if self.cap is None:
            self.settled += spent
            return
        async with self._cond:
            held = self._in_flight[cell].pop()
            self._reserved -= held
            self.settled += spent
            total, n = self._costs.get(cell, (ZERO, 0))
            self._costs[cell] = (total + spent, n + 1)
            self._cond.notify_all()

    # --- requests -------------------------------------------------------------------------

    async def reserve_request(self, worst_usd: Decimal | None) -> Decimal:
        """Hold a request's worst-case cost; raise LimitReached('budget_exhausted') when it
        cannot fit even once every other request in flight has settled."""
        if self.cap is None:
            return ZERO
        worst = worst_usd or ZERO
        async with self._cond:
            while self.live + self._held + worst > self.cap:
                if self._requests == 0:
                    self.stopped = True
                    raise LimitReached(
                        ErrorClass.BUDGET_EXHAUSTED,
                        f"the run's spend cap of ${self.cap} is reached: ${self.live:.6f} "
                        f"spent, the next request may cost up to ${worst:.6f}",
                    )
                await self._cond.wait()
            self._held += worst
            self._requests += 1
            return worst

    async def release_request(self, held: Decimal, cost_usd: Decimal) -> None:
        """A request that held `held` settled, costing `cost_usd` (fresh)."""
        if self.cap is None:
            self.live += cost_usd
            return
        async with self._cond:
            self._held -= held
            self._requests -= 1
            self.live += cost_usd
            self._cond.notify_all()


class TrialGuard:
    """The limits of one trial, checked before each of its requests (a `CallGuard`)."""

    def __init__(
        self,
        cap: SpendCap | None,
        *,
        max_steps: int,
        max_tokens: int | None,
        cancel: Callable[[], None] | None = None,
    ) -> None:
        self.cap = cap
        self.max_steps = max_steps
        self.max_tokens = max_tokens
        self.cancel = cancel
        """Cancels the trial (set by the runner): for an agent that ignores LimitReached."""
        self.turns = 0
        """Model turns the agent began (its calls in any role but the user simulator's)."""
        self.tokens = 0
        """Tokens of the agent's calls so far."""
        self.tripped: ErrorClass | None = None
        """The limit that ended the trial, once one has."""
        self._refused = 0

    async def _refuse(self, reason: ErrorClass, message: str) -> None:
        self.tripped = self.tripped or reason
        self._refused += 1
        if self._refused > SWALLOWED_LIMIT_CALLS and self.cancel is not None:
            self.cancel()  # the agent keeps calling after being told to stop
        await asyncio.sleep(0)  # a loop that swallows the error still yields to the event loop
        raise LimitReached(self.tripped, message)

    async def begin(self, role: CallRole) -> None:
        """Before a model turn: the step and token budgets (the agent's own calls only)."""
        if self.tripped is not None:
            await self._refuse(self.tripped, f"the trial already stopped: {self.tripped}")
        if role == USER_SIM_ROLE:
            return
        if self.turns >= self.max_steps:
            used = f"step budget of {self.max_steps} model turns used up"
            await self._refuse(ErrorClass.STEP_LIMIT, used)
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            await self._refuse(
                ErrorClass.TOKEN_LIMIT, f"token budget of {self.max_tokens} used up ({self.tokens})"
            )
        self.turns += 1

    async def reserve(self, worst_usd: Decimal | None) -> Decimal:
        """Hold a request's worst-case cost against the run's cap."""
        if self.cap is None:
            return ZERO
        try:
            return await self.cap.reserve_request(worst_usd)
        except LimitReached as exc:
            self.tripped = self.tripped or exc.reason
            raise

    async def release(self, held: Decimal, record: CallRecord) -> None:
        """Settle a request: its fresh cost counts against the cap."""
        if self.cap is None:
            return
        cost = ZERO if record.cached or record.cost_usd is None else record.cost_usd
        await self.cap.release_request(held, cost)

    def observe(self, record: CallRecord) -> None:
        """Count the tokens of the agent's calls (cached ones too)."""
        if record.role != USER_SIM_ROLE:
            self.tokens += record.usage.total_tokens
