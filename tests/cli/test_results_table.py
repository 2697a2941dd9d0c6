"""The end-of-run table reads honestly: errors apart, limits named, short cells marked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rich.console import Console

from roibench.cli.tables import print_grid, results_grid
from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.outcomes import Outcome
from roibench.core.records import ErrorClass, TrialRecord
from roibench.core.usage import Usage
from roibench.results.summary import summarize_cell

VALUE = ValueModel(unit="t", human_cost_per_task_usd=Decimal(5), source="test")
PRICING = OutcomePricing(price_usd=Decimal(1))


def record(i: int, outcome: Outcome, error_class: ErrorClass | None = None) -> TrialRecord:
    return TrialRecord(
        cell="w/a/m", workflow="w", agent="a", model="m", task_id=f"t{i}", tier="easy",
        trial=0, seed=0, outcome=outcome, error_class=error_class, calls=(), usage=Usage(),
        cost_usd=Decimal(0), steps=1, started_at=datetime(2026, 11, 1, tzinfo=UTC),
        duration_s=0.1,
    )  # fmt: skip


def render(trials: list[TrialRecord], planned: int) -> str:
    summary = summarize_cell("w/a/m", trials, VALUE, PRICING)
    summary.metrics["planned_trials"] = float(planned)
    console = Console(width=250, record=True)
    print_grid(console, results_grid({"w/a/m": summary}, 1))
    return console.export_text()


def test_errors_and_limits_have_their_own_columns() -> None:
    text = render(
        [
            record(0, Outcome.resolved()),
            record(1, Outcome.error("api down"), ErrorClass.API_ERROR),
            record(2, Outcome.error("x"), ErrorClass.API_ERROR),
            record(3, Outcome.harness_error("tool 'x' raised"), ErrorClass.HARNESS_ERROR),
            record(4, Outcome.failed("step_limit: no reply"), ErrorClass.STEP_LIMIT),
        ],
        planned=5,
    )
    assert "errors" in text and "limits" in text
    assert "40% + 20% harness" in text  # 2 of 5 infrastructure, 1 of 5 harness
    assert "1 step limit" in text
    assert "20% (" in text  # success 1 of 5, with its interval


def test_a_short_cell_says_so_and_an_empty_one_is_not_run() -> None:
    short = render([record(0, Outcome.resolved())], planned=4)
    assert "1/4" in short
    empty = render([], planned=4)
    assert "0/4" in empty and "not run" in empty
    assert "0%" not in empty
