"""Prices computed by hand: DeepSeek peak/off-peak with cache hits, a tiered Qwen call across
the boundary, CNY cards converted at the FX table's date; card files and resolution."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from roibench.config.suite import parse_suite
from roibench.core.errors import InputError
from roibench.core.usage import Usage
from roibench.pricing.cards import (
    DEFAULT_FX,
    CardPricer,
    FxRate,
    FxTable,
    GenaiPricer,
    PriceCard,
    PriceCatalog,
    bundled_book,
    call_cost_usd,
    load_price_book,
    parse_price_book,
)

M = Decimal(1_000_000)
# 1 USD = 7.25 CNY: converted with the multiplier 1/7.25 to 12 significant digits
PER_CNY_725 = Decimal("0.137931034483")
PER_CNY_710 = Decimal("0.140845070423")  # 1/7.10 = 0.14084507042253..., 12 digits
# the usage of the real DeepSeek payload deepseek-v4flash-toolcall-reasoning-cachehit.json
DS_USAGE = Usage(input_tokens=563, cache_read_tokens=512, output_tokens=116, requests=1)
TUESDAY_PEAK = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)  # Tue 02:30 UTC: inside 01:00-04:00
TUESDAY_OFF = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # Tue 12:00 UTC: off-peak
SATURDAY_0230 = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)  # a weekend: off-peak all day


def bundled(card_id: str) -> CardPricer:
    pricer = PriceCatalog().by_id(card_id)
    assert isinstance(pricer, CardPricer)
    return pricer


def test_deepseek_flash_cache_hits_peak_and_off_peak() -> None:
    pricer = bundled("deepseek/deepseek-flash")
    # peak: 51 uncached x $0.30 + 512 hits x $0.006 + 116 out x $1.20, per million
    peak = (51 * Decimal("0.30") + 512 * Decimal("0.006") + 116 * Decimal("1.20")) / M
    assert peak == Decimal("0.000157572")
    # off-peak: half of each
    off = (51 * Decimal("0.15") + 512 * Decimal("0.003") + 116 * Decimal("0.60")) / M
    assert off == Decimal("0.000078786")
    assert pricer.cost_usd(DS_USAGE, TUESDAY_PEAK) == peak
    assert pricer.cost_usd(DS_USAGE, TUESDAY_OFF) == off
    assert pricer.cost_usd(DS_USAGE, SATURDAY_0230) == off


@pytest.mark.parametrize(
    ("hour", "minute", "is_peak"),
    [
        (0, 59, False),
        (1, 0, True),
        (3, 59, True),
        (4, 0, False),
        (5, 59, False),
        (6, 0, True),
        (9, 59, True),
        (10, 0, False),
        (16, 30, False),
    ],
)
def test_deepseek_window_edges(hour: int, minute: int, is_peak: bool) -> None:
    pricer = bundled("deepseek/deepseek-flash")
    at = datetime(2026, 11, 27, hour, minute, tzinfo=UTC)  # a Friday
    one_mtok_out = Usage(output_tokens=1_000_000, requests=1)
    assert pricer.cost_usd(one_mtok_out, at) == (Decimal("1.20") if is_peak else Decimal("0.60"))


def test_genai_prices_agrees_on_weekdays_but_has_no_weekend_rule() -> None:
    genai = GenaiPricer("deepseek", "deepseek-flash")
    ours = bundled("deepseek/deepseek-flash")
    for at in (TUESDAY_PEAK, TUESDAY_OFF):
        assert genai.cost_usd(DS_USAGE, at) == ours.cost_usd(DS_USAGE, at)
    # genai-prices 0.2.3 bills Saturday 02:30 at the peak rate (no weekday rule): the reason
    # the bundled card takes precedence for DeepSeek
    assert genai.cost_usd(DS_USAGE, SATURDAY_0230) == Decimal("0.000157572")
    assert ours.cost_usd(DS_USAGE, SATURDAY_0230) == Decimal("0.000078786")


def test_deepseek_cny_card_converted_at_bundled_rate() -> None:
    pricer = bundled("deepseek/deepseek-flash@CNY")
    # peak CNY: 51 x 2 + 512 x 0.04 + 116 x 8 = 102 + 20.48 + 928 = 1050.48 per million
    cny = Decimal("1050.48") / M
    assert pricer.cost_usd(DS_USAGE, TUESDAY_PEAK) == cny * PER_CNY_725


def test_card_outside_its_effective_dates_prices_nothing() -> None:
    pricer = bundled("deepseek/deepseek-flash")  # effective from 2026-09-10
    assert pricer.cost_usd(DS_USAGE, datetime(2026, 9, 9, 12, tzinfo=UTC)) is None
    assert pricer.cost_usd(DS_USAGE, datetime(2026, 9, 10, 12, tzinfo=UTC)) is not None


def test_qwen_flash_tier_boundary_in_cny() -> None:
    pricer = bundled("qwen-cn/qwen-flash")
    at = datetime(2026, 11, 25, 8, tzinfo=UTC)
    at_boundary = Usage(input_tokens=128_000, output_tokens=1_000, requests=1)
    over = Usage(input_tokens=128_001, output_tokens=1_000, requests=1)
    # <= 128K: 128,000 x 0.15 + 1,000 x 1.5 = 19,200 + 1,500 = 20,700 CNY per million
    assert pricer.cost_usd(at_boundary, at) == Decimal("0.0207") * PER_CNY_725
    # > 128K: the whole request at the second tier: 128,001 x 0.6 + 1,000 x 6 = 82,800.6
    assert pricer.cost_usd(over, at) == Decimal("0.0828006") * PER_CNY_725
    # > 1M is beyond the card: unpriced, not guessed
    assert pricer.cost_usd(Usage(input_tokens=1_000_001, requests=1), at) is None


def test_qwen_plus_tier_two_with_cache_write() -> None:
    pricer = bundled("qwen/qwen3.7-plus")
    usage = Usage(input_tokens=300_000, cache_write_tokens=10_000, output_tokens=2_000, requests=1)
    # > 256K tier: 290,000 x 1.20 + 10,000 x 1.50 + 2,000 x 4.80 = 348,000 + 15,000 + 9,600
    assert pricer.cost_usd(usage, TUESDAY_OFF) == Decimal("372600") / M
    below = Usage(input_tokens=256_000, cache_read_tokens=200_000, output_tokens=2_000, requests=1)
    # <= 256K: 56,000 x 0.40 + 200,000 x 0.08 + 2,000 x 1.60 = 22,400 + 16,000 + 3,200
    assert pricer.cost_usd(below, TUESDAY_OFF) == Decimal("41600") / M


def test_cny_card_converted_at_the_fx_tables_date() -> None:
    fx = FxTable(
        rates=(
            FxRate(currency="CNY", units_per_usd=Decimal("7.25"), as_of=date(2026, 6, 1)),
            FxRate(currency="CNY", units_per_usd=Decimal("7.10"), as_of=date(2026, 11, 1)),
        )
    )
    card = bundled_book().cards[[c.id for c in bundled_book().cards].index("zhipu/glm-5.3")]
    pricer = CardPricer([card], fx, "test")
    usage = Usage(input_tokens=1_000, cache_read_tokens=200, output_tokens=500, requests=1)
    # 800 x 8 + 200 x 2 + 500 x 28 = 6,400 + 400 + 14,000 = 20,800 CNY per million
    cny = Decimal("0.0208")
    assert pricer.cost_usd(usage, datetime(2026, 10, 31, 23, 59, tzinfo=UTC)) == cny * PER_CNY_725
    assert pricer.cost_usd(usage, datetime(2026, 11, 1, 0, 0, tzinfo=UTC)) == cny * PER_CNY_710
    # before the table starts: its earliest rate
    assert pricer.cost_usd(usage, datetime(2026, 1, 1, tzinfo=UTC)) == cny * PER_CNY_725
    params = pricer.params(date(2026, 11, 2))
    assert params["fx_rate"] == "1 USD = 7.10 CNY (2026-11-01)"
    assert params["fx_date"] == "2026-11-01"
    assert params["fx_usd_per_unit"] == "0.140845070423"
    assert params["price_currency"] == "CNY"


def test_bundled_fx_table() -> None:
    rate = DEFAULT_FX.rate("CNY")
    assert rate.units_per_usd == Decimal("7.25")
    assert rate.as_of == date(2026, 6, 1)
    assert rate.usd_per_unit == PER_CNY_725
    # 7.25 x 0.137931034483 = 0.965517241381 + 0.03448275862075
    assert DEFAULT_FX.to_usd(Decimal("7.25"), "CNY") == Decimal("1.00000000000175")
    assert DEFAULT_FX.to_usd(Decimal("3"), "USD") == Decimal(3)


def test_prompt_over_max_input_is_unpriced() -> None:
    pricer = bundled("doubao/doubao-seed-2-0-pro")
    ok = Usage(input_tokens=32_000, cache_read_tokens=16_000, output_tokens=100, requests=1)
    # 16,000 x 3.2 + 16,000 x 0.64 + 100 x 16 = 51,200 + 10,240 + 1,600 = 63,040 CNY per million
    assert pricer.cost_usd(ok, TUESDAY_OFF) == Decimal("0.06304") * PER_CNY_725
    assert pricer.cost_usd(Usage(input_tokens=32_001, requests=1), TUESDAY_OFF) is None


def test_missing_cache_price_bills_at_input_rate() -> None:
    pricer = bundled("doubao/doubao-seed-2-0-mini")
    usage = Usage(input_tokens=1_000, cache_read_tokens=1_000, output_tokens=0, requests=1)
    assert pricer.cost_usd(usage, TUESDAY_OFF) == Decimal("1000") * Decimal("0.2") / M * PER_CNY_725


def test_money_is_decimal_and_unknown_is_none() -> None:
    assert isinstance(bundled("stepfun/step-3.7-flash").cost_usd(DS_USAGE, TUESDAY_OFF), Decimal)
    assert call_cost_usd(DS_USAGE, None, TUESDAY_OFF) is None
    assert GenaiPricer("deepseek", "no-such-model").cost_usd(DS_USAGE, TUESDAY_OFF) is None


def test_genai_prices_kimi_k3_by_hand() -> None:
    pricer = GenaiPricer("moonshotai", "kimi-k3")
    usage = Usage(input_tokens=1_000, cache_read_tokens=100, output_tokens=100, requests=1)
    # 900 x $3 + 100 x $0.30 + 100 x $15 = 2,700 + 30 + 1,500 per million
    assert pricer.cost_usd(usage, TUESDAY_OFF) == Decimal("4230") / M


def test_every_bundled_card_has_provenance() -> None:
    book = bundled_book()
    assert len(book.cards) >= 12
    for card in book.cards:
        assert card.source_url and card.checked, card.ref
    covered = {(c.provider, c.currency) for c in book.cards}
    for needed in [
        ("qwen", "USD"),
        ("qwen-cn", "CNY"),
        ("doubao", "CNY"),
        ("stepfun", "CNY"),
        ("deepseek", "CNY"),
        ("zhipu", "CNY"),
        ("moonshot-cn", "CNY"),
        ("minimax-cn", "CNY"),
    ]:
        assert needed in covered, needed


def test_scaled_card_doubles_every_price() -> None:
    card = bundled("qwen-cn/qwen-flash").card
    doubled = card.scaled_card(Decimal(2))
    usage = Usage(input_tokens=200_000, cache_read_tokens=50_000, output_tokens=3_000, requests=1)
    assert doubled.cost_at(usage, TUESDAY_OFF) == 2 * card.cost_at(usage, TUESDAY_OFF)  # type: ignore[operator]
    assert doubled.tiers[0].input_per_mtok == Decimal("1.2")


# --------------------------------------------------------------------------- card files


def test_card_file_error_names_file_line_and_field(tmp_path: Path) -> None:
    text = (
        "cards:\n"
        "  - id: mine/a\n"
        "    model: a\n"
        "    input_per_mtok: 1\n"
        "    output_per_mtok: 2\n"
        "  - id: mine/b\n"
        "    model: b\n"
        "    input_per_mtok: -1\n"
        "    output_per_mtok: 2\n"
    )
    path = tmp_path / "cards.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_price_book(path)
    assert info.value.file == str(path)
    assert info.value.line == 8
    assert info.value.field == "cards.1.input_per_mtok"


def test_card_file_unknown_field_and_bad_window(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    with pytest.raises(InputError) as info:
        parse_price_book(
            "cards:\n  - model: a\n    input_per_mtok: 1\n    output_per_mtok: 2\n"
            "    colour: red\n",
            path,
        )
    assert (info.value.line, info.value.field) == (5, "cards.0.colour")
    assert "unknown field" in str(info.value)
    with pytest.raises(InputError) as info:
        parse_price_book(
            "cards:\n  - model: a\n    input_per_mtok: 1\n    output_per_mtok: 2\n"
            "    windows:\n      - utc: ['25-3']\n        input_per_mtok: 1\n"
            "        output_per_mtok: 1\n",
            path,
        )
    assert info.value.field == "cards.0.windows.0.utc"
    assert info.value.line == 6


def test_card_file_bad_yaml_and_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        parse_price_book("cards:\n  - model: [unclosed\n", tmp_path / "x.yaml")
    assert info.value.line is not None and info.value.line >= 2  # not the file's first line
    with pytest.raises(InputError, match="not found"):
        load_price_book(tmp_path / "absent.yaml")


def test_provenance_required_for_bundled_style_files(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        parse_price_book(
            "cards:\n  - model: a\n    input_per_mtok: 1\n    output_per_mtok: 2\n"
            "    source_url: https://example.invalid\n",
            tmp_path / "b.yaml",
            require_provenance=True,
        )
    assert info.value.field == "cards.0.checked"


def test_yaml_floats_stay_exact(tmp_path: Path) -> None:
    book = parse_price_book(
        "cards:\n  - model: a\n    input_per_mtok: 0.1\n    output_per_mtok: 0.7\n", tmp_path / "f"
    )
    assert book.cards[0].input_per_mtok == Decimal("0.1")


# --------------------------------------------------------------------------- resolution

SUITE = """\
name = "t"
workflows = ["refunds"]
agents = ["react"]
{extra}
[outcome_pricing]
price_usd = 0.99

[[models]]
name = "inline"
provider = "sim"
[models.price]
input_per_mtok = 1
output_per_mtok = 2

[[models]]
name = "by-id"
provider = "sim"
price_card = "deepseek/deepseek-flash"

[[models]]
name = "deepseek-flash"
provider = "deepseek"

[[models]]
name = "gpt-5.6-luna"
provider = "openai"

[[models]]
name = "sim/unpriced"
provider = "sim"
"""


def _refs(tmp_path: Path, extra: str = "") -> list[str | None]:
    from roibench.config.suite import model_pricer, suite_catalog

    suite_path = tmp_path / "s.toml"
    suite = parse_suite(SUITE.format(extra=extra), suite_path)
    catalog = suite_catalog(suite)
    out: list[str | None] = []
    for i in range(len(suite.config.models)):
        pricer = model_pricer(catalog, suite, i)
        out.append(None if pricer is None else pricer.ref)
    return out


def test_resolution_order(tmp_path: Path) -> None:
    assert _refs(tmp_path) == [
        "card:sim/inline",
        "card:deepseek/deepseek-flash",
        "card:deepseek/deepseek-flash",  # bundled beats genai-prices (weekday rule)
        "genai-prices:openai/gpt-5.6-luna",
        None,
    ]


def test_user_cards_override_bundled(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "cards:\n"
        "  - id: deepseek/deepseek-flash\n    provider: deepseek\n    model: deepseek-flash\n"
        "    input_per_mtok: 9\n    output_per_mtok: 9\n"
        "  - id: luna-contract\n    provider: openai\n    model: gpt-5.6-luna\n"
        "    input_per_mtok: 0.1\n    output_per_mtok: 1\n",
        encoding="utf-8",
    )
    from roibench.config.suite import model_pricer, suite_catalog

    suite = parse_suite(SUITE.format(extra='price_cards = "mine.yaml"'), tmp_path / "s.toml")
    catalog = suite_catalog(suite)
    by_id = model_pricer(catalog, suite, 1)
    assert isinstance(by_id, CardPricer) and by_id.origin == "mine.yaml"
    assert by_id.cost_usd(Usage(input_tokens=1_000_000, requests=1), TUESDAY_OFF) == Decimal(9)
    luna = model_pricer(catalog, suite, 3)
    assert luna is not None and luna.ref == "card:luna-contract"


def test_unknown_card_id_is_an_input_error_with_line(tmp_path: Path) -> None:
    from roibench.config.suite import model_pricer, suite_catalog

    text = SUITE.format(extra="").replace('"deepseek/deepseek-flash"', '"nope/nothing"')
    suite = parse_suite(text, tmp_path / "s.toml")
    with pytest.raises(InputError) as info:
        model_pricer(suite_catalog(suite), suite, 1)
    assert info.value.field == "models.1.price_card"
    assert info.value.line == text.splitlines().index('price_card = "nope/nothing"') + 1
    assert "nope/nothing" in str(info.value)


def test_missing_price_cards_file_names_the_suite_field(tmp_path: Path) -> None:
    from roibench.config.suite import suite_catalog

    suite = parse_suite(SUITE.format(extra='price_cards = "absent.yaml"'), tmp_path / "s.toml")
    with pytest.raises(InputError) as info:
        suite_catalog(suite)
    assert info.value.field == "price_cards"
    assert info.value.line == 4


def test_price_and_price_card_together_rejected(tmp_path: Path) -> None:
    text = SUITE.format(extra="").replace(
        'name = "inline"\nprovider = "sim"\n',
        'name = "inline"\nprovider = "sim"\nprice_card = "x"\n',
    )
    with pytest.raises(InputError, match="not both"):
        parse_suite(text, tmp_path / "s.toml")


def test_unpriced_hint_names_model_and_how() -> None:
    from roibench.pricing.cards import unpriced_hint

    hint = unpriced_hint("my-model", "m-1", "local")
    assert "'my-model'" in hint and "local/m-1" in hint
    assert "[models.price]" in hint and "price_card" in hint and "not zero" in hint


def test_inline_card_priced(tmp_path: Path) -> None:
    suite = parse_suite(SUITE.format(extra=""), tmp_path / "s.toml")
    card = suite.config.models[0].price_card()
    assert isinstance(card, PriceCard)
    # 1M uncached in x $1 + 0.5M out x $2 = $2
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, requests=1)
    assert call_cost_usd(usage, card, TUESDAY_OFF) == Decimal(2)


def test_libyaml_and_pure_python_loaders_read_cards_alike() -> None:
    """Cards are read with libyaml where PyYAML has it: the values — Decimal prices among
    them — must be what the pure-Python loader gives."""
    import yaml

    from roibench.pricing import cards

    class PurePython(yaml.SafeLoader):
        pass

    PurePython.add_constructor("tag:yaml.org,2002:float", cards._decimal)  # pyright: ignore[reportPrivateUsage]
    text = cards.BUNDLED_CARDS.read_text(encoding="utf-8")
    text += "extra:\n  a: 0.15\n  b: 1_000.5\n  c: 3\n  d: 2026-01-31\n  e: .5e-3\n"
    fast = yaml.load(text, Loader=cards._DecimalLoader)  # pyright: ignore[reportPrivateUsage]
    slow = yaml.load(text, Loader=PurePython)
    assert fast == slow
    assert fast["extra"]["a"] == Decimal("0.15") and fast["extra"]["b"] == Decimal("1000.5")
    assert fast["extra"]["e"] == Decimal("0.0005")
