"""What `roibench run` reports at the end besides the results: what went wrong in a way that
must not pass for a result (harness errors, stopped cells), and the exit code that says so."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roibench.core.outcomes import OutcomeStatus

if TYPE_CHECKING:
    from roibench.core.records import TrialRecord
    from roibench.run.runner import RunResult

EXIT_PROBLEMS = 1
"""The run finished but something must be fixed: harness errors, or cells stopped early."""
EXIT_INTERRUPTED = 130
"""Ctrl-C: the journal is complete up to the interrupt; `--resume` continues."""


@dataclass
class RunProblems:
    """What went wrong in a run that must not pass for a result."""

    harness: Counter[str] = field(default_factory=Counter)
    """Harness errors by reason (tool, grader or agent named, exception type)."""
    harness_cells: Counter[str] = field(default_factory=Counter)

    def add(self, record: TrialRecord) -> None:
        """Look at one finished trial."""
        if record.outcome.status is OutcomeStatus.HARNESS_ERROR:
            self.harness[record.outcome.reason[:200]] += 1
            self.harness_cells[record.cell] += 1

    def harness_lines(self) -> list[str]:
        """The end-of-run summary of harness errors (empty: none)."""
        out: list[str] = []
        n = sum(self.harness.values())
        if n:
            cells = ", ".join(f"{c} ({k})" for c, k in self.harness_cells.most_common())
            out.append(
                f"{n} trial(s) ended in a harness error — a bug in a tool, grader or agent, "
                f"not the model; counted apart (harness_error_rate), a human redoing each: "
                f"{cells}"
            )
            for reason, count in self.harness.most_common(5):
                out.append(f"  {count} × {reason}")
        return out

    def exit_code(self, result: RunResult) -> int:
        """0 when nothing went wrong, else EXIT_PROBLEMS."""
        return EXIT_PROBLEMS if self.harness or result.stopped_cells else 0
