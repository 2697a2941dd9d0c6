"""Terminal tables that read: dollars and ROI multiples at a sensible precision, the closing
verdict (worked out here by hand), nothing cut at 80 columns, full width when piped."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rich.console import Console

from roibench.cli.tables import multiple, print_results, usd, verdict
from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, TrialRecord
from roibench.core.usage import Usage
from roibench.results.summary import CellSummary, summarize_cell

D = Decimal
T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)
VALUE = ValueModel(unit="ticket", human_cost_per_task_usd=D(10), source="test")
PRICING = OutcomePricing(price_usd=D(1))  # per resolution, harmful refunded


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("-376136.2"), "-376k×"), (D("559.89"), "560×"), (D("1354.47"), "1.35k×"),
        (D("7.094"), "7.09×"), (D("-39.24"), "-39.2×"), (D("0.354"), "0.35×"),
        (D("2500000"), "2.50M×"), (0.5, "0.50×"), (None, "—"),
    ],
)  # fmt: skip
def test_roi_as_a_multiple(value: Decimal | float | None, text: str) -> None:
    assert multiple(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1234.5"), "$1,235"), (D("12.345"), "$12.35"), (D("0.0143"), "$0.0143"),
        (D("0.000170"), "$0.00017"), (D("-3.2"), "-$3.20"), (D(0), "$0.00"), (None, "—"),
    ],
)  # fmt: skip
def test_dollars(value: Decimal | None, text: str) -> None:
    assert usd(value) == text


def trial(task: str, k: int, outcome: Outcome, cost: str) -> TrialRecord:
    call = CallRecord(started_at=T0, latency_s=0.1, usage=Usage(requests=1), cost_usd=D(cost))
    return TrialRecord(
        cell="w/a/m", workflow="w", agent="a", model="m", task_id=task, tier="easy", trial=k,
        seed=k, outcome=outcome, calls=(call,), usage=call.usage, cost_usd=D(cost), steps=1,
        started_at=T0, duration_s=1.0,
    )  # fmt: skip


def cells() -> dict[str, CellSummary]:
    r, h = Outcome.resolved(), Outcome.harmful("overpaid", D(50))
    x = [trial("t1", 0, r, "0.01"), trial("t2", 0, r, "0.01")]
    y = [trial("t1", 0, r, "0.001"), trial("t2", 0, h, "0.001")]
    return {
        label: summarize_cell(label, ts, VALUE, PRICING)
        for label, ts in (("careful/react/x", x), ("cheap/react/y", y))
    }


def test_verdict_by_hand() -> None:
    # careful: baseline 2 x $10 = $20; buyer pays $0.02 in tokens -> +$19.98, +$9.99 per task;
    #   outcome fees 2 x $1 -> +$18, +$9.00 per task; cost per outcome $0.02 / 2 = $0.01
    # cheap: harm = $50 loss + $10 redo = $60; tokens $0.002 -> 20 - 60.002 = -$20.00 per task;
    #   fees $1 (the harmful one refunded) -> 20 - 61 = -$20.50 per task; CPO $0.002 / 1
    lines = verdict(cells(), "per_resolution")
    assert lines[0] == (
        "Saves the buyer most per task under per-token pricing: careful/react/x (+$9.99 per task)."
    )
    assert lines[1] == (
        "Saves the buyer most per task under per_resolution pricing: careful/react/x "
        "(+$9.00 per task)."
    )
    assert lines[2].startswith("Cheapest per successful outcome: cheap/react/y ($0.002).")
    assert "ignores harm, escalations and rework" in lines[2]
    assert lines[3] == "Least harm: careful/react/x (0% of trials harmful, $0.00 measured loss)."


def test_verdict_when_no_cell_saves_money() -> None:
    h = Outcome.harmful("overpaid", D(50))
    worse = summarize_cell("w/a/z", [trial("t1", 0, h, "0.01")], VALUE, PRICING)
    lines = verdict({"cheap/react/y": cells()["cheap/react/y"], "w/a/z": worse})
    # y: -$20.00 per task (above); z: 10 - (0.01 + 60) = -$50.01
    assert lines[0] == (
        "Under per-token pricing no cell saves the buyer money; the least costly is "
        "cheap/react/y (-$20.00 per task)."
    )
    assert verdict({"only": worse}) == []  # one cell: nothing to compare


def render(width: int) -> str:
    out = io.StringIO()
    print_results(Console(file=out, width=width), cells(), 1, "per_resolution")
    return out.getvalue()


def test_a_wide_console_gets_the_table_and_80_columns_a_stacked_layout() -> None:
    wide = render(220)
    assert "net / task (token)" in wide and "┃" in wide
    assert "+$9.99" in wide and "$50.00" in wide  # net savings and loss in dollars
    narrow = render(80)
    assert "┃" not in narrow and "…" not in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())
    for text in ("careful/react/x", "cheap/react/y", "ROI token", "+$9.99", "-$20.00"):
        assert text in narrow


@pytest.mark.parametrize("columns", [None, "80"])
def test_providers_are_never_cut(columns: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns:
        env["COLUMNS"] = columns
    out = subprocess.run(
        [sys.executable, "-m", "roibench", "providers"], capture_output=True, text=True,
        env=env, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    # the longest base URL, whole on one line, piped (not a terminal) or at 80 columns
    url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert any(url in line for line in out.stdout.splitlines())
    if columns:
        assert all(len(line) <= 80 for line in out.stdout.splitlines())
