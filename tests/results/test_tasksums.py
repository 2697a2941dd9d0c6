"""The vectorised formulas (what every resample evaluates) agree with the exact Decimal
economics on the whole cell, under every outcome-pricing scheme."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from test_economics import VALUE, WRITE, sample

from roibench.config.value import OutcomePricing
from roibench.results.economics import cell_economics
from roibench.results.tally import CellTally
from roibench.results.tasksums import EconParams, Figure, evaluate, matrix_of_tallies, sums_view

SCHEMES = [
    OutcomePricing(scheme="per_resolution", price_usd=Decimal("1.00")),
    OutcomePricing(
        scheme="per_resolution",
        price_usd=Decimal("0.50"),
        bill_escalations=True,
        refund_harmful=False,
    ),
    OutcomePricing(scheme="per_conversation", price_usd=Decimal("0.30")),
    OutcomePricing(scheme="per_action", price_usd=Decimal("0.25")),
    OutcomePricing(scheme="hybrid", price_usd=Decimal("0.80"), base_fee_usd=Decimal("0.05")),
]


@pytest.mark.parametrize("pricing", SCHEMES, ids=lambda p: p.scheme)
def test_vectorised_figures_match_the_decimal_economics(pricing: OutcomePricing) -> None:
    e = cell_economics(sample(), VALUE, pricing, write_tools=WRITE)
    tally = CellTally.of(sample(), WRITE)
    m = matrix_of_tallies(tally.tasks, [1, 2], priced=True)
    totals = sums_view(m.columns.sum(axis=0), m.names)
    params = EconParams.of(VALUE, pricing)

    def fig(name: str) -> float | None:
        value = float(evaluate(name, totals, params))
        return value if math.isfinite(value) else None

    def f(x: Decimal | None) -> float | None:
        return None if x is None else float(x)

    assert fig(Figure.SUCCESS_RATE) == pytest.approx(e.success_rate)
    assert fig(Figure.COST_PER_OUTCOME) == pytest.approx(f(e.cost_per_outcome_usd))
    assert fig(Figure.ROI_TOKEN) == pytest.approx(f(e.roi_token_pricing))
    assert fig(Figure.ROI_OUTCOME) == pytest.approx(f(e.roi_outcome_pricing))
    assert fig(Figure.VENDOR_MARGIN) == pytest.approx(f(e.vendor_margin_outcome))
    assert fig(Figure.BREAK_EVEN) == pytest.approx(f(e.break_even_success_rate))
    assert fig(Figure.HARM_PER_TRIAL) == pytest.approx(float(e.harm_usd) / e.counts.total)
    if e.price_corridor_usd is not None:
        assert fig(Figure.CORRIDOR_LOW) == pytest.approx(float(e.price_corridor_usd[0]))
        assert fig(Figure.CORRIDOR_HIGH) == pytest.approx(float(e.price_corridor_usd[1]))
    for j, value in e.pass_hat.items():
        assert fig(f"pass_hat_{j}") == pytest.approx(value)
