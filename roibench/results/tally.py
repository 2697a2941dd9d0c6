"""A cell's running tally: everything its summary needs, updated one trial at a time.

A long run never holds its trials: each finished trial is written to the journal and added to
its cell's tally, which keeps per-task counts and sums (what pass^k and the task bootstrap
resample), money totals as Decimal, token usage and the calls' latencies. Memory grows with the
number of tasks, not trials (plus 8 bytes per call for exact latency percentiles).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from roibench.core.outcomes import LIMIT_STOPS, OutcomeStatus
from roibench.core.records import TrialRecord
from roibench.core.usage import Usage

USER_SIM_ROLE = "user_sim"
"""Calls of a workflow's user simulator: reported apart from the agent's (`user_sim_*`)."""

AGENT_ROLE = "agent"
"""The acting model's calls. Other roles of the agent's own (e.g. 'planner', 'verifier') count
in its spend and are also tallied apart (`<role>_spend_usd`)."""

ZERO = Decimal(0)


@dataclass
class TaskTally:
    """One task's trials in a cell: outcome counts, spend, loss and write actions."""

    n: int = 0
    """Trials."""
    tier: str = ""
    """The task's tier (per-tier metrics)."""
    resolved: int = 0
    escalated: int = 0
    failed: int = 0
    harmful: int = 0
    error: int = 0
    harness_error: int = 0
    spend_usd: float = 0.0
    """Agent spend (float: the bootstrap resamples it thousands of times)."""
    loss_usd: float = 0.0
    actions: int = 0
    """Successful calls to the workflow's write tools."""


@dataclass
class MoneySum:
    """A sum of call costs that turns None — unpriced, never 0 — once any cost is unknown."""

    priced_usd: Decimal = ZERO
    """Sum of the known costs."""
    calls: int = 0
    unpriced: int = 0
    """Calls without a price."""

    def add(self, cost: Decimal | None) -> None:
        """Add one call's cost."""
        self.calls += 1
        if cost is None:
            self.unpriced += 1
        else:
            self.priced_usd += cost

    @property
    def total_usd(self) -> Decimal | None:
        """The sum; None when any call was unpriced."""
        return None if self.unpriced else self.priced_usd


@dataclass
class CellTally:
    """Running totals of one cell's trials (the agent's calls apart from a user simulator's)."""

    write_tools: frozenset[str] = frozenset()
    """Tools whose successful calls count as billable actions (per_action pricing)."""
    tasks: dict[str, TaskTally] = field(default_factory=dict)
    """Per task id."""
    spend: MoneySum = field(default_factory=MoneySum)
    """The agent's calls."""
    loss_usd: Decimal = ZERO
    usage: Usage = field(default_factory=Usage)
    """The agent's tokens and requests."""
    latencies_s: array[float] = field(default_factory=lambda: array("d"))
    """Latency of every agent call."""
    invalid_tool_calls: int = 0
    role_spend: dict[str, MoneySum] = field(default_factory=dict)
    """The agent's calls in roles other than acting (e.g. 'planner', 'verifier'), by role."""
    user_sim_spend: MoneySum = field(default_factory=MoneySum)
    user_sim_requests: int = 0
    retried_calls: int = 0
    """Calls that are retries of a failed attempt (attempt > 0, any role)."""
    failed_attempts: int = 0
    """Calls that failed (retried after or not: a final error counts too)."""
    cached_calls: int = 0
    estimated_usage_calls: int = 0
    lost_spend: MoneySum = field(default_factory=MoneySum)
    """Calls of attempts lost in a crash (resume), apart from the trials' own spend."""
    limit_stops: dict[str, int] = field(default_factory=dict)
    """Trials a limit ended, by reason (`step_limit`, `token_limit`, `budget_exhausted`,
    `trial_timeout`)."""

    @classmethod
    def of(
        cls, trials: Iterable[TrialRecord], write_tools: frozenset[str] = frozenset()
    ) -> CellTally:
        """The tally of `trials`."""
        tally = cls(write_tools=write_tools)
        for trial in trials:
            tally.add(trial)
        return tally

    def add(self, trial: TrialRecord) -> None:
        """Count one finished trial."""
        cost, usage = trial.cost_usd, trial.usage
        if any(c.role == USER_SIM_ROLE for c in trial.calls):  # the totals hold both sides
            agent_calls = [c for c in trial.calls if c.role != USER_SIM_ROLE]
            costs = [c.cost_usd for c in agent_calls]
            cost = None if None in costs else sum((c for c in costs if c is not None), ZERO)
            usage = sum((c.usage for c in agent_calls), Usage())
        for call in trial.calls:
            if call.role == USER_SIM_ROLE:
                self.user_sim_spend.add(call.cost_usd)
                self.user_sim_requests += call.usage.requests
            else:
                self.spend.add(call.cost_usd)
                self.latencies_s.append(call.latency_s)
                if call.role != AGENT_ROLE:
                    money = self.role_spend.get(call.role)
                    if money is None:
                        money = self.role_spend[call.role] = MoneySum()
                    money.add(call.cost_usd)
            self.retried_calls += call.attempt > 0
            self.failed_attempts += call.error is not None
            self.cached_calls += call.cached
            self.estimated_usage_calls += call.usage_estimated
        for call in trial.lost_calls:
            self.lost_spend.add(call.cost_usd)
        self.usage += usage
        self.invalid_tool_calls += trial.invalid_tool_calls
        self.loss_usd += trial.outcome.loss_usd

        task = self.tasks.get(trial.task_id)
        if task is None:
            task = self.tasks[trial.task_id] = TaskTally(tier=trial.tier)
        task.n += 1
        status = trial.outcome.status
        task.resolved += status is OutcomeStatus.RESOLVED
        task.escalated += status is OutcomeStatus.ESCALATED
        task.failed += status is OutcomeStatus.FAILED
        task.harmful += status is OutcomeStatus.HARMFUL
        task.error += status is OutcomeStatus.ERROR
        task.harness_error += status is OutcomeStatus.HARNESS_ERROR
        if trial.error_class in LIMIT_STOPS:
            self.limit_stops[trial.error_class] = self.limit_stops.get(trial.error_class, 0) + 1
        task.spend_usd += float(cost or 0)
        task.loss_usd += float(trial.outcome.loss_usd)
        if self.write_tools:
            task.actions += trial.tool_calls_by_name(self.write_tools)

    @property
    def trials(self) -> int:
        """Trials counted."""
        return sum(t.n for t in self.tasks.values())

    def task_groups(self) -> list[TaskTally]:
        """Per-task tallies in task-id order — not finishing order, so a seeded bootstrap
        gives the same interval however the trials happened to finish."""
        return [self.tasks[task_id] for task_id in sorted(self.tasks)]
