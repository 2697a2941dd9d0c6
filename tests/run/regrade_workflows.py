"""Workflows for the regrade tests: the built-in refunds workflow with one grading rule
changed, so a regrade must change exactly the trials that rule touches."""

from __future__ import annotations

from decimal import Decimal

# installed through package-dir (roibench.workflows -> workflows/), which pyright cannot follow
from roibench.workflows.refunds import RefundsWorkflow  # pyright: ignore[reportMissingImports]

from roibench.config.tasks import Task
from roibench.core.outcomes import Outcome, OutcomeStatus
from roibench.workflow import Env, Transcript

FLAT_LOSS = Decimal("100")


class FlatHarmLossRefunds(RefundsWorkflow):
    """Refunds graded as built in, except that every harmful outcome loses a flat $100
    (whatever was paid out)."""

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        """The built-in verdict, with a harmful outcome's loss replaced."""
        outcome = super().grade(task, env, transcript)
        if outcome.status is OutcomeStatus.HARMFUL:
            return outcome.model_copy(update={"loss_usd": FLAT_LOSS})
        return outcome


class RenamedRefunds(RefundsWorkflow):
    """The built-in refunds workflow under another name (a run's only workflow is replaced
    whatever its name)."""

    name = "refunds_v2"
