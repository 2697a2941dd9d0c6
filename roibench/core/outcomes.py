"""The graded result of one trial."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class OutcomeStatus(StrEnum):
    """Who finishes the work after the agent (README: "Outcomes")."""

    RESOLVED = "resolved"
    """End state matches the expectation, no policy violated: nobody."""
    ESCALATED = "escalated"
    """The agent handed off to a human: a human, at escalation cost."""
    FAILED = "failed"
    """Wrong or incomplete end state, no money lost: a human redoes it."""
    HARMFUL = "harmful"
    """Policy violated or money lost: a human, plus the measured loss."""
    ERROR = "error"
    """Infrastructure failure after retries: reported apart; its spend still counts."""
    HARNESS_ERROR = "harness_error"
    """A bug in the code under the agent's feet, not the model: a tool raised something other
    than ToolError, the grader raised or returned no Outcome, agent code raised. Reported apart
    from `error` (harness_error_rate); in the economics a human redoes the task, as for
    `error`; its spend still counts."""


LIMIT_STOPS = ("step_limit", "token_limit", "budget_exhausted", "trial_timeout")
"""Error classes of trials that a limit ended: the agent's step and token budgets, the run's
spend cap, the trial's wall-clock limit."""


class Outcome(BaseModel):
    """A grader's verdict on one trial's end state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: OutcomeStatus = Field(description="Outcome class.")
    loss_usd: Decimal = Field(
        default=Decimal(0),
        ge=0,
        description="Money lost, measured from the end state (harmful only).",
    )
    reason: str = Field(default="", description="Why, in one line, for the trials table.")
    matches_expected: bool = Field(
        default=False,
        description="End state equals the expected one (a correct escalation included).",
    )

    @classmethod
    def resolved(cls, reason: str = "end state matches") -> Outcome:
        """Shorthand for a resolved outcome."""
        return cls(status=OutcomeStatus.RESOLVED, reason=reason, matches_expected=True)

    @classmethod
    def failed(cls, reason: str) -> Outcome:
        """Shorthand for a failed outcome."""
        return cls(status=OutcomeStatus.FAILED, reason=reason)

    @classmethod
    def escalated(cls, reason: str, *, correct: bool = False) -> Outcome:
        """Shorthand for an escalated outcome; `correct` when the policy required it."""
        return cls(status=OutcomeStatus.ESCALATED, reason=reason, matches_expected=correct)

    @classmethod
    def harmful(cls, reason: str, loss_usd: Decimal = Decimal(0)) -> Outcome:
        """Shorthand for a harmful outcome with its measured loss."""
        return cls(status=OutcomeStatus.HARMFUL, reason=reason, loss_usd=loss_usd)

    @classmethod
    def error(cls, reason: str) -> Outcome:
        """Shorthand for an infrastructure error."""
        return cls(status=OutcomeStatus.ERROR, reason=reason)

    @classmethod
    def harness_error(cls, reason: str) -> Outcome:
        """Shorthand for a harness error (a tool, grader or agent bug), `reason` naming it."""
        return cls(status=OutcomeStatus.HARNESS_ERROR, reason=reason)

    def stopped_by(self, stop_reason: str, detail: str) -> Outcome:
        """This outcome, for an agent that stopped on a limit (`step_limit`,
        `token_limit`): a failure names the limit as its cause, with the grader's finding
        after it; other statuses (harm done, a hand-off made) keep their own reason."""
        if self.status is not OutcomeStatus.FAILED:
            return self
        return self.model_copy(
            update={"reason": f"{stop_reason}: {detail} (grader: {self.reason})"}
        )


@dataclass(frozen=True)
class Counts:
    """Outcome counts of a set of trials."""

    total: int = 0
    resolved: int = 0
    escalated: int = 0
    failed: int = 0
    harmful: int = 0
    error: int = 0
    harness_error: int = 0

    @classmethod
    def of(cls, statuses: Sequence[OutcomeStatus]) -> Counts:
        """Count statuses."""
        return cls(
            total=len(statuses),
            resolved=sum(s is OutcomeStatus.RESOLVED for s in statuses),
            escalated=sum(s is OutcomeStatus.ESCALATED for s in statuses),
            failed=sum(s is OutcomeStatus.FAILED for s in statuses),
            harmful=sum(s is OutcomeStatus.HARMFUL for s in statuses),
            error=sum(s is OutcomeStatus.ERROR for s in statuses),
            harness_error=sum(s is OutcomeStatus.HARNESS_ERROR for s in statuses),
        )
