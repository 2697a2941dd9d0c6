"""Compute price cards: a self-hosted model priced by the machine time each call took."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from roibench.core.errors import InputError
from roibench.core.records import CallRecord, ServerTimings
from roibench.core.usage import Usage
from roibench.pricing.cards import (
    ComputeCard,
    ComputePricer,
    PriceCatalog,
    bundled_book,
    call_cost_usd,
    parse_price_book,
    pricer_from_snapshot,
)

AT = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
# a real call of the refunds run on Gemma 270M (2026-12-01): llama.cpp's timings
TIMINGS = ServerTimings(
    prompt_n=680, prompt_ms=2971.504, predicted_n=16, predicted_ms=417.773, cache_n=0
)


def call(timings: ServerTimings | None, latency_s: float = 3.435) -> CallRecord:
    return CallRecord(
        started_at=AT,
        latency_s=latency_s,
        usage=Usage(input_tokens=680, output_tokens=16, requests=1),
        cost_usd=None,
        timings=timings,
    )


def test_cost_is_the_share_of_the_machine_for_the_busy_time() -> None:
    card = ComputeCard(id="t", usd_per_hour=Decimal("0.0816"))
    record = call(TIMINGS)
    assert record.busy_s == Decimal("3.389277")  # (2971.504 + 417.773) ms
    # by hand: 0.0816 $/h × 3.389277 s / 3600 s/h = 0.000076823612 $
    assert card.cost_usd(record.busy_s) == Decimal("0.000076823612")
    two = ComputeCard(id="t2", usd_per_hour=Decimal("0.0816"), parallel_slots=2)
    assert two.cost_usd(record.busy_s) == Decimal("0.000038411806")


def test_without_timings_the_wall_time_is_priced() -> None:
    pricer = ComputePricer(ComputeCard(id="t", usd_per_hour=Decimal("0.36")), "test")
    record = call(None, latency_s=2.5)
    assert record.busy_s == Decimal("2.5")
    # 0.36 $/h = 0.0001 $/s: 2.5 s cost 0.00025 $
    assert call_cost_usd(record.usage, pricer, AT, busy_s=record.busy_s) == Decimal("0.00025")
    # tokens alone do not price a self-hosted call: unpriced, never 0
    assert call_cost_usd(record.usage, pricer, AT) is None


def test_bundled_compute_card_has_provenance_and_round_trips() -> None:
    (card,) = bundled_book().compute_cards
    assert card.id == "selfhost/aws-m7g-large" and card.usd_per_hour == Decimal("0.0816")
    assert card.source_url and card.checked and card.note
    pricer = PriceCatalog().by_id(card.id)
    assert isinstance(pricer, ComputePricer)
    again = pricer_from_snapshot(pricer.snapshot())
    assert isinstance(again, ComputePricer) and again.card == card
    assert pricer.params()["price_kind"] == "compute"


def test_compute_card_file_errors_name_the_place(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        parse_price_book("compute_cards:\n  - id: a\n    usd_per_hour: -1\n", tmp_path / "c.yaml")
    assert (info.value.field, info.value.line) == ("compute_cards.0.usd_per_hour", 3)
    with pytest.raises(InputError) as info:
        parse_price_book(
            "compute_cards:\n  - id: a\n    usd_per_hour: 1\n",
            tmp_path / "c.yaml",
            require_provenance=True,
        )
    assert info.value.field == "compute_cards.0.source_url"
    with pytest.raises(InputError, match="duplicate card id"):
        parse_price_book(
            "cards:\n  - {id: a, model: m, input_per_mtok: 1, output_per_mtok: 1}\n"
            "compute_cards:\n  - {id: a, usd_per_hour: 1}\n",
            tmp_path / "c.yaml",
        )
