"""Token prices: price cards in native currency (with provenance), a dated FX table, and the
price sources a model resolves to — a card or genai-prices — each pricing one call's usage at
the call's own timestamp.

Money is Decimal. A price that is not known is None — never 0 — and a call priced by no source
has cost None, which the economics layer reports as "unpriced", naming the model.

Resolution order for a model (first hit wins):
  1. an inline `[models.price]` card in the suite;
  2. `price_card = "ID"` in the suite: the card with that id in the suite's `price_cards` file,
     then in the bundled cards, or `"genai-prices:PROVIDER/MODEL"`;
  3. automatically by provider preset and model id: the suite's `price_cards` file, then the
     bundled cards (roibench/data/price_cards.yaml), then genai-prices (pinned, offline).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, localcontext
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from roibench.core.errors import InputError
from roibench.core.usage import Usage

MTOK = Decimal(1_000_000)
DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_CARDS = DATA_DIR / "price_cards.yaml"
BUNDLED_FX = DATA_DIR / "fx.yaml"
GENAI_PRICES_VERSION = "0.2.3"
GENAI_PREFIX = "genai-prices:"
FX_DIGITS = 12
"""Significant digits of the USD-per-unit multiplier (see FxRate.usd_per_unit)."""

Currency = Literal["USD", "CNY"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --------------------------------------------------------------------------- rates and cards


class PriceRates(BaseModel):
    """Prices per million tokens in the card's currency. A cache price left out means the
    provider bills those tokens at the input rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: Decimal = Field(ge=0, description="Uncached input, per 1M tokens.")
    cache_read_per_mtok: Decimal | None = Field(
        default=None, ge=0, description="Cache hits, per 1M."
    )
    cache_write_per_mtok: Decimal | None = Field(
        default=None, ge=0, description="Cache writes, per 1M."
    )
    output_per_mtok: Decimal = Field(ge=0, description="Output incl. reasoning, per 1M tokens.")

    def cost(self, usage: Usage) -> Decimal:
        """Cost of `usage` at these rates (exact: no rounding)."""
        read = self.cache_read_per_mtok
        write = self.cache_write_per_mtok
        total = (
            Decimal(usage.uncached_input_tokens) * self.input_per_mtok
            + Decimal(usage.cache_read_tokens) * (self.input_per_mtok if read is None else read)
            + Decimal(usage.cache_write_tokens) * (self.input_per_mtok if write is None else write)
            + Decimal(usage.output_tokens) * self.output_per_mtok
        )
        return total / MTOK

    def rates_text(self) -> str:
        """'in 0.15 / cached 0.003 / out 0.6'."""
        parts = [f"in {self.input_per_mtok}"]
        if self.cache_read_per_mtok is not None:
            parts.append(f"cached {self.cache_read_per_mtok}")
        if self.cache_write_per_mtok is not None:
            parts.append(f"cache-write {self.cache_write_per_mtok}")
        parts.append(f"out {self.output_per_mtok}")
        return " / ".join(parts)


def _parse_hhmm(text: str) -> time:
    hours, minutes = text.strip().split(":")
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return time.max
    return time(h, m)


class PriceTier(PriceRates):
    """Prices for a request whose prompt is longer than `above_input_tokens`. The whole request
    is billed at the tier its prompt length falls in (DashScope, Doubao, MiniMax)."""

    above_input_tokens: int = Field(gt=0, description="Applies when input_tokens > this.")


class PriceWindow(PriceRates):
    """Prices during a time-of-day window on given weekdays (UTC), e.g. DeepSeek's peak hours."""

    name: str = Field(default="window", description="e.g. 'peak'.")
    days: tuple[Weekday, ...] = Field(
        default=_WEEKDAYS, description="Weekdays it applies on (UTC)."
    )
    utc: tuple[str, ...] = Field(
        min_length=1, description="UTC 'HH:MM-HH:MM' ranges, start inclusive, end exclusive."
    )

    @field_validator("utc")
    @classmethod
    def _ranges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                start, end = item.split("-")
                _parse_hhmm(start)
                _parse_hhmm(end)
            except ValueError:
                raise ValueError(f"{item!r} is not a 'HH:MM-HH:MM' UTC range") from None
        return value

    def applies(self, at: datetime) -> bool:
        """True if `at` (converted to UTC) falls in the window."""
        at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        if _WEEKDAYS[at.weekday()] not in self.days:
            return False
        now = at.time().replace(tzinfo=None)
        for item in self.utc:
            start_text, end_text = item.split("-")
            start, end = _parse_hhmm(start_text), _parse_hhmm(end_text)
            if start <= end:
                if start <= now < end:
                    return True
            elif now >= start or now < end:  # wraps past midnight
                return True
        return False


class PriceCard(PriceRates):
    """List prices of one model, per million tokens, in the card's currency, with provenance.

    The flat rates are the default; a tier (by prompt length) or a window (time of day and
    weekday) replaces them when it applies. A card has tiers or windows, not both.
    """

    id: str | None = Field(
        default=None, description="Reference for `price_card = ...`, e.g. 'qwen/qwen-flash'."
    )
    model: str = Field(description="Model id as sent to the API.")
    aliases: tuple[str, ...] = Field(default=(), description="Other model ids the card prices.")
    provider: str | None = Field(default=None, description="Provider preset the card applies to.")
    providers: tuple[str, ...] = Field(
        default=(), description="More provider presets it applies to."
    )
    currency: Currency = Field(default="USD", description="Currency of every price on the card.")
    tiers: tuple[PriceTier, ...] = Field(default=(), description="Prices by prompt length.")
    windows: tuple[PriceWindow, ...] = Field(default=(), description="Prices by time of day (UTC).")
    max_input_tokens: int | None = Field(
        default=None, gt=0, description="Longer prompts are unpriced (prices not published)."
    )
    effective_from: date | None = Field(default=None, description="First UTC day the prices apply.")
    effective_to: date | None = Field(default=None, description="Last UTC day the prices apply.")
    source_url: str | None = Field(default=None, description="Where the prices were read.")
    checked: date | None = Field(default=None, description="When they were last checked there.")
    note: str = Field(default="", description="Caveats: derived figures, assumptions.")

    @model_validator(mode="after")
    def _consistent(self) -> PriceCard:
        if self.tiers and self.windows:
            raise ValueError("a card has tiers or windows, not both")
        thresholds = [t.above_input_tokens for t in self.tiers]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tiers must be in increasing, distinct above_input_tokens order")
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self

    @property
    def ref(self) -> str:
        """The card's id, or provider/model."""
        return self.id or f"{self.provider or '?'}/{self.model}"

    def covers(self, day: date) -> bool:
        """True if the card's prices were in effect on `day`."""
        if self.effective_from and day < self.effective_from:
            return False
        return not (self.effective_to and day > self.effective_to)

    def matches(self, provider: str, model_id: str) -> bool:
        """True if the card prices `model_id` on provider preset `provider`."""
        providers = {self.provider, *self.providers} - {None}
        models = {self.model.lower(), *(a.lower() for a in self.aliases)}
        return provider in providers and model_id.lower() in models

    def rates_for(self, usage: Usage, at: datetime | None) -> PriceRates | None:
        """The rates that apply to a call (None: the prompt exceeds what the card prices)."""
        if self.max_input_tokens is not None and usage.input_tokens > self.max_input_tokens:
            return None
        rates: PriceRates = self
        for tier in self.tiers:
            if usage.input_tokens > tier.above_input_tokens:
                rates = tier
        if at is not None:
            for window in self.windows:
                if window.applies(at):
                    rates = window
        return rates

    def cost_at(self, usage: Usage, at: datetime | None) -> Decimal | None:
        """Cost in the card's currency, or None when the card does not price this call."""
        rates = self.rates_for(usage, at)
        return None if rates is None else rates.cost(usage)

    def describe(self) -> str:
        """Short human-readable summary for params and reports."""
        text = f"{self.currency}/Mtok " + self.rates_text()
        for tier in self.tiers:
            text += f"; >{tier.above_input_tokens} tok: {tier.rates_text()}"
        for window in self.windows:
            text += (
                f"; {window.name} {','.join(window.days)} {' '.join(window.utc)} UTC: "
                f"{window.rates_text()}"
            )
        if self.checked:
            text += f", checked {self.checked}"
        return text

    def scaled_card(self, factor: Decimal) -> PriceCard:
        """The card with every price (flat, tiers, windows) multiplied by `factor`."""
        rate_fields = set(PriceRates.model_fields)

        def scale(rates: dict[str, Any]) -> dict[str, Any]:
            return {
                k: (v * factor if k in rate_fields and v is not None else v)
                for k, v in rates.items()
            }

        data = scale(self.model_dump())
        data["tiers"] = [scale(t) for t in data["tiers"]]
        data["windows"] = [scale(w) for w in data["windows"]]
        return PriceCard.model_validate(data)


class ComputeCard(BaseModel):
    """What a self-hosted model costs: the machine's price per hour and how many requests its
    server decodes at once. A call's cost is its share of the machine for the time it kept a
    slot busy: usd_per_hour × busy seconds / 3600 / parallel_slots, where busy seconds are the
    server's own prompt_ms + predicted_ms (llama.cpp `timings`) or, when it reports none, the
    call's wall time. Idle time between calls is not charged (full utilisation assumed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, description="Reference for `price_card = ...`.")
    usd_per_hour: Decimal = Field(gt=0, description="The machine's price per hour, in USD.")
    parallel_slots: int = Field(
        default=1, ge=1, description="Requests the server decodes at once (llama.cpp -np)."
    )
    machine: str = Field(default="", description="What the price is for, e.g. '2 vCPU, 8 GiB'.")
    providers: tuple[str, ...] = Field(
        default=(), description="Provider presets it prices automatically (with `models`)."
    )
    models: tuple[str, ...] = Field(
        default=(), description="Model ids it prices automatically; empty: only by id."
    )
    source_url: str | None = Field(default=None, description="Where the price was read.")
    checked: date | None = Field(default=None, description="When it was last checked there.")
    note: str = Field(default="", description="Caveats: derived figures, assumptions.")

    @property
    def ref(self) -> str:
        """The card's id."""
        return self.id

    def matches(self, provider: str, model_id: str) -> bool:
        """True if the card prices `model_id` on provider preset `provider` automatically."""
        models = {m.lower() for m in self.models}
        return provider in self.providers and model_id.lower() in models

    def cost_usd(self, busy_s: Decimal) -> Decimal:
        """USD cost of keeping one slot busy for `busy_s` seconds (one division, at the end)."""
        return self.usd_per_hour * busy_s / (Decimal(3600) * self.parallel_slots)

    def describe(self) -> str:
        """'USD 0.0816/h machine (2 vCPU), 1 slot: busy seconds × 0.0816/3600/1'."""
        machine = f" ({self.machine})" if self.machine else ""
        text = (
            f"USD {self.usd_per_hour}/h machine{machine}, {self.parallel_slots} slot(s): "
            f"busy seconds × {self.usd_per_hour}/3600/{self.parallel_slots}"
        )
        if self.checked:
            text += f", checked {self.checked}"
        return text


# --------------------------------------------------------------------------- FX


class FxRate(BaseModel):
    """How many units of `currency` one USD bought on `as_of`, and where that figure is from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str = Field(min_length=3, max_length=3, description="ISO code, e.g. 'CNY'.")
    units_per_usd: Decimal = Field(gt=0, description="1 USD = this many units.")
    as_of: date = Field(description="Date of the rate.")
    source_url: str | None = None
    note: str = ""

    @property
    def usd_per_unit(self) -> Decimal:
        """The multiplier used: 1 / units_per_usd to 12 significant digits. A finite decimal,
        so every converted amount is exact and sums and doublings of USD costs stay exact
        (the 1e-12 relative difference from 1/7.25 is far below any FX uncertainty)."""
        with localcontext() as ctx:
            ctx.prec = FX_DIGITS
            return Decimal(1) / self.units_per_usd

    def describe(self) -> str:
        """'1 USD = 7.25 CNY (2026-06-01)'."""
        return f"1 USD = {self.units_per_usd} {self.currency} ({self.as_of})"


class FxTable(BaseModel):
    """Dated exchange rates to USD. A conversion on a day uses the latest rate dated on or
    before it (or the earliest rate, for days before the table starts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rates: tuple[FxRate, ...] = Field(min_length=1, description="Dated rates, any order.")

    def rate(self, currency: str, on: date | None = None) -> FxRate:
        """The rate used for `currency` on day `on` (default: the latest)."""
        candidates = sorted(
            (r for r in self.rates if r.currency == currency), key=lambda r: r.as_of
        )
        if not candidates:
            raise KeyError(f"no FX rate for {currency}")
        if on is None:
            return candidates[-1]
        chosen = candidates[0]
        for r in candidates:
            if r.as_of <= on:
                chosen = r
        return chosen

    def to_usd(self, amount: Decimal, currency: str, on: date | None = None) -> Decimal:
        """Convert `amount` in `currency` to USD at the rate for day `on`."""
        if currency == "USD":
            return amount
        return amount * self.rate(currency, on).usd_per_unit

    def overlay(self, other: FxTable | None) -> FxTable:
        """This table with `other`'s rates replacing it for the currencies `other` has."""
        if other is None:
            return self
        mine = {r.currency for r in other.rates}
        return FxTable(rates=(*other.rates, *(r for r in self.rates if r.currency not in mine)))


# --------------------------------------------------------------------------- YAML files


class PriceBookFile(BaseModel):
    """A price-card file: cards and, optionally, FX rates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cards: tuple[PriceCard, ...] = ()
    compute_cards: tuple[ComputeCard, ...] = Field(
        default=(), description="Self-hosted machines priced per hour of busy slot time."
    )
    fx: tuple[FxRate, ...] = ()
    require_provenance: bool = Field(
        default=False, description="Every card must have source_url and checked (bundled files do)."
    )

    @model_validator(mode="after")
    def _unique(self) -> PriceBookFile:
        ids = [c.id for c in self.cards if c.id] + [c.id for c in self.compute_cards]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate card id(s): {', '.join(dupes)}")
        return self


_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (~10x faster: the bundled cards are
read on every run), else the pure-Python one; both resolve and construct alike."""


class _DecimalLoader(_SafeLoader):
    """YAML safe loader reading floats as Decimal (0.15 stays exactly 0.15)."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def _line_map(
    node: Any, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], int]
) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            out[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), out)
            # a wrong value is reported at its key's line, not where the value ends
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), out)


def _locate(text: str, loc: Sequence[str | int]) -> int | None:
    """The line of the key at `loc` (or of its nearest parent) in a valid YAML text: composed
    only here, on the way to an error (a file that validates never needs it)."""
    lines: dict[tuple[str | int, ...], int] = {}
    node = yaml.compose(text, Loader=_SafeLoader)
    if node is not None:
        _line_map(node, (), lines)
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def parse_price_book(text: str, file: Path, *, require_provenance: bool = False) -> PriceBookFile:
    """Validate a price-card YAML text; errors name the file, line and field."""
    try:
        data = yaml.load(text, Loader=_DecimalLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            file=file,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            "a price-card file is a mapping with 'cards' (and 'fx')", file=file, line=1
        )
    try:
        book = PriceBookFile.model_validate({**data, "require_provenance": require_provenance})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        field = ".".join(str(p) for p in loc) or "(file)"
        raise InputError(msg, file=file, line=_locate(text, loc), field=field) from None
    if require_provenance:
        listed: list[tuple[str, int, PriceCard | ComputeCard]] = [
            *(("cards", i, c) for i, c in enumerate(book.cards)),
            *(("compute_cards", i, c) for i, c in enumerate(book.compute_cards)),
        ]
        for section, i, card in listed:
            for attr in ("source_url", "checked"):
                if getattr(card, attr) is None:
                    loc = (section, i, attr)
                    raise InputError(
                        "every bundled card needs source_url and checked",
                        file=file,
                        line=_locate(text, loc),
                        field=".".join(map(str, loc)),
                    )
    return book


def load_price_book(path: Path, *, require_provenance: bool = False) -> PriceBookFile:
    """Read and validate a price-card YAML file."""
    if not path.is_file():
        raise InputError("price-card file not found", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("price-card file is not UTF-8 text", file=path) from None
    return parse_price_book(text, path, require_provenance=require_provenance)


@cache
def bundled_book() -> PriceBookFile:
    """The cards shipped with roibench (roibench/data/price_cards.yaml)."""
    return load_price_book(BUNDLED_CARDS, require_provenance=True)


@cache
def bundled_fx() -> FxTable:
    """The FX table shipped with roibench (roibench/data/fx.yaml)."""
    return FxTable(rates=load_price_book(BUNDLED_FX).fx)


def file_sha256(path: Path) -> str:
    """Short content hash of a file (recorded with a run, so a re-price can tell)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


# --------------------------------------------------------------------------- price sources


@runtime_checkable
class Pricer(Protocol):
    """Prices one call's usage at the call's timestamp, in USD; None = not priced."""

    @property
    def ref(self) -> str:
        """What the price comes from, e.g. 'card:deepseek/deepseek-flash'."""
        ...

    def cost_usd(self, usage: Usage, at: datetime) -> Decimal | None:
        """USD cost of one call; None when this source has no price for it."""
        ...

    def describe(self) -> str:
        """One-line summary for params and reports."""
        ...

    def params(self, on: date | None = None) -> dict[str, str]:
        """MLflow params: card, currency, checked date, source, FX rate and date used."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON data that rebuilds this exact pricer (journal header; `roibench reprice`)."""
        ...


class CardPricer:
    """Prices by price cards: one card, or a dated history of cards for the same model."""

    def __init__(self, cards: Sequence[PriceCard], fx: FxTable, origin: str) -> None:
        if not cards:
            raise ValueError("CardPricer needs at least one card")
        self.cards = tuple(cards)
        self.fx = fx
        self.origin = origin

    @property
    def ref(self) -> str:
        """'card:<id>'."""
        return "card:" + self.cards[0].ref

    @property
    def card(self) -> PriceCard:
        """The latest card (for display)."""
        return self.cards[-1]

    @property
    def currency(self) -> str:
        """Currency of the card."""
        return self.card.currency

    def card_on(self, day: date) -> PriceCard | None:
        """The card in effect on `day`."""
        found = None
        for card in self.cards:
            if card.covers(day):
                found = card
        return found

    def cost_usd(self, usage: Usage, at: datetime) -> Decimal | None:
        """USD cost at the call's time: the card of that day, its tier or window, FX of that day."""
        day = _utc(at).date()
        card = self.card_on(day)
        if card is None:
            return None
        native = card.cost_at(usage, _utc(at))
        if native is None:
            return None
        return self.fx.to_usd(native, card.currency, day)

    def describe(self) -> str:
        """Card summary."""
        return self.card.describe()

    def params(self, on: date | None = None) -> dict[str, str]:
        """MLflow params of the card and the FX rate used."""
        card = self.card
        out = {
            "price_source": f"{self.origin} card {card.ref}",
            "price_card": card.describe(),
            "price_currency": card.currency,
            "price_checked": str(card.checked) if card.checked else "unknown",
            "price_source_url": card.source_url or self.origin,
        }
        if card.currency != "USD":
            rate = self.fx.rate(card.currency, on)
            out["fx_rate"] = rate.describe()
            out["fx_usd_per_unit"] = str(rate.usd_per_unit)
            out["fx_date"] = str(rate.as_of)
            out["fx_source"] = rate.source_url or ""
        return out

    def snapshot(self) -> dict[str, Any]:
        """The cards and FX rates, in full."""
        return {
            "kind": "cards",
            "origin": self.origin,
            "cards": [c.model_dump(mode="json", exclude_defaults=True) for c in self.cards],
            "fx": [r.model_dump(mode="json") for r in self.fx.rates],
        }


class GenaiPricer:
    """Prices by genai-prices (pinned version, bundled data, never updated at run time)."""

    def __init__(self, provider_id: str, model_ref: str) -> None:
        self.provider_id = provider_id
        self.model_ref = model_ref

    @property
    def ref(self) -> str:
        """'genai-prices:<provider>/<model>'."""
        return f"{GENAI_PREFIX}{self.provider_id}/{self.model_ref}"

    def cost_usd(self, usage: Usage, at: datetime) -> Decimal | None:
        """genai-prices' total price at the call's timestamp (its peak windows, its history)."""
        from genai_prices import Usage as GUsage
        from genai_prices import calc_price

        try:
            result = calc_price(
                GUsage(
                    input_tokens=usage.input_tokens,
                    cache_read_tokens=usage.cache_read_tokens,
                    cache_write_tokens=usage.cache_write_tokens,
                    output_tokens=usage.output_tokens,
                ),
                self.model_ref,
                provider_id=self.provider_id,
                genai_request_timestamp=_utc(at),
            )
        except LookupError:
            return None
        return Decimal(result.total_price)

    def known(self) -> bool:
        """True if genai-prices has this model."""
        return self.cost_usd(Usage(), datetime.now(UTC)) is not None

    def describe(self) -> str:
        """'genai-prices 0.2.3 deepseek/deepseek-flash: $0.15/input MTok, ...'."""
        from genai_prices import Usage as GUsage
        from genai_prices import calc_price

        try:
            result = calc_price(GUsage(), self.model_ref, provider_id=self.provider_id)
            prices = str(result.model_price)
        except LookupError:
            prices = "unknown"
        return f"genai-prices {GENAI_PRICES_VERSION} {self.provider_id}/{self.model_ref}: {prices}"

    def params(self, on: date | None = None) -> dict[str, str]:
        """MLflow params."""
        del on
        return {
            "price_source": f"genai-prices {GENAI_PRICES_VERSION} {self.ref[len(GENAI_PREFIX) :]}",
            "price_card": self.describe(),
            "price_currency": "USD",
            "price_checked": f"genai-prices {GENAI_PRICES_VERSION} data",
            "price_source_url": "https://github.com/pydantic/genai-prices",
        }

    def snapshot(self) -> dict[str, Any]:
        """Provider and model, and the pinned version."""
        return {
            "kind": "genai-prices",
            "provider_id": self.provider_id,
            "model_ref": self.model_ref,
            "version": GENAI_PRICES_VERSION,
        }


class ComputePricer:
    """Prices self-hosted calls by the machine time they took (a ComputeCard). Tokens alone
    do not price a call here: `cost_usd(usage, at)` is None; `call_cost_usd` passes the
    call's busy seconds."""

    def __init__(self, card: ComputeCard, origin: str) -> None:
        self.card = card
        self.origin = origin

    @property
    def ref(self) -> str:
        """'compute:<id>'."""
        return "compute:" + self.card.id

    def cost_usd(self, usage: Usage, at: datetime) -> Decimal | None:
        """None: a compute card prices time, not tokens (see `cost_for`)."""
        del usage, at
        return None

    def cost_for(self, busy_s: Decimal) -> Decimal:
        """USD cost of a call that kept a slot busy for `busy_s` seconds."""
        return self.card.cost_usd(busy_s)

    def describe(self) -> str:
        """Card summary."""
        return self.card.describe()

    def params(self, on: date | None = None) -> dict[str, str]:
        """MLflow params of the card."""
        del on
        card = self.card
        return {
            "price_source": f"{self.origin} compute card {card.id}",
            "price_card": card.describe(),
            "price_currency": "USD",
            "price_checked": str(card.checked) if card.checked else "unknown",
            "price_source_url": card.source_url or self.origin,
            "price_kind": "compute",
            "price_usd_per_hour": str(card.usd_per_hour),
            "price_parallel_slots": str(card.parallel_slots),
        }

    def snapshot(self) -> dict[str, Any]:
        """The card in full."""
        return {
            "kind": "compute",
            "origin": self.origin,
            "card": self.card.model_dump(mode="json", exclude_defaults=True),
        }


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def pricer_from_snapshot(data: Mapping[str, Any]) -> Pricer:
    """Rebuild a pricer recorded by `snapshot()`."""
    if data.get("kind") == "genai-prices":
        return GenaiPricer(str(data["provider_id"]), str(data["model_ref"]))
    if data.get("kind") == "compute":
        return ComputePricer(
            ComputeCard.model_validate(data["card"]), str(data.get("origin", "journal"))
        )
    cards = [PriceCard.model_validate(c) for c in data["cards"]]
    fx = (
        FxTable(rates=tuple(FxRate.model_validate(r) for r in data["fx"]))
        if data.get("fx")
        else bundled_fx()
    )
    return CardPricer(cards, fx, str(data.get("origin", "journal")))


# --------------------------------------------------------------------------- resolution


class PriceCatalog:
    """Where prices come from for a suite: its own card file, the bundled cards, genai-prices,
    and the FX table (bundled, overlaid by the card file's and the suite's rates)."""

    def __init__(
        self,
        user: PriceBookFile | None = None,
        user_origin: str = "user",
        fx_override: FxTable | None = None,
        *,
        use_bundled: bool = True,
        use_genai_prices: bool = True,
    ) -> None:
        self.user = user
        self.user_origin = user_origin
        self.bundled = bundled_book() if use_bundled else PriceBookFile()
        self.use_genai_prices = use_genai_prices
        fx = bundled_fx()
        if user is not None and user.fx:
            fx = fx.overlay(FxTable(rates=user.fx))
        self.fx = fx.overlay(fx_override)

    def books(self) -> Iterable[tuple[PriceBookFile, str]]:
        if self.user is not None:
            yield self.user, self.user_origin
        yield self.bundled, "bundled"

    def by_id(self, card_id: str) -> CardPricer | ComputePricer | None:
        """All cards with this id (a dated history) from the first book that has it, or the
        compute card with this id."""
        for book, origin in self.books():
            cards = [c for c in book.cards if c.id == card_id]
            if cards:
                return CardPricer(cards, self.fx, origin)
            compute = [c for c in book.compute_cards if c.id == card_id]
            if compute:
                return ComputePricer(compute[0], origin)
        return None

    def by_model(self, provider: str, model_id: str) -> CardPricer | ComputePricer | None:
        """The cards of the first book with a card for this provider preset and model id.
        Several matching cards with different effective dates form a history; otherwise the
        first card listed wins. A compute card listing the model prices it too."""
        for book, origin in self.books():
            matches = [c for c in book.cards if c.matches(provider, model_id)]
            if matches:
                first = matches[0]
                history = [c for c in matches if (c.id or c.ref) == (first.id or first.ref)]
                return CardPricer(history, self.fx, origin)
            compute = [c for c in book.compute_cards if c.matches(provider, model_id)]
            if compute:
                return ComputePricer(compute[0], origin)
        return None

    def genai(self, genai_provider: str | None, model_id: str) -> GenaiPricer | None:
        """genai-prices, if it knows the model."""
        if not self.use_genai_prices or genai_provider is None:
            return None
        pricer = GenaiPricer(genai_provider, model_id)
        return pricer if pricer.known() else None

    def card_ids(self) -> list[str]:
        """Every card id known (user file first)."""
        seen: list[str] = []
        for book, _ in self.books():
            for c in (*book.cards, *book.compute_cards):
                if c.id and c.id not in seen:
                    seen.append(c.id)
        return seen

    def resolve(
        self,
        *,
        provider: str,
        model_id: str,
        genai_provider: str | None,
        inline: PriceCard | None = None,
        card_ref: str | None = None,
    ) -> Pricer | None:
        """The price source of a model (module docstring: resolution order). Raises KeyError
        for a `card_ref` that names nothing; returns None for a model nothing prices."""
        if inline is not None:
            return CardPricer([inline], self.fx, "suite")
        if card_ref is not None:
            if card_ref.startswith(GENAI_PREFIX):
                rest = card_ref[len(GENAI_PREFIX) :]
                gp, _, model = rest.partition("/")
                found = self.genai(gp, model) if gp and model else None
                if found is None:
                    raise KeyError(f"genai-prices {GENAI_PRICES_VERSION} has no model {rest!r}")
                return found
            found_card = self.by_id(card_ref)
            if found_card is None:
                known = ", ".join(self.card_ids())
                raise KeyError(
                    f"no price card with id {card_ref!r}; known ids: {known}; or use "
                    f"'{GENAI_PREFIX}PROVIDER/MODEL'"
                )
            return found_card
        by_model = self.by_model(provider, model_id)
        if by_model is not None:
            return by_model
        return self.genai(genai_provider, model_id)


def unpriced_hint(model_name: str, model_id: str, provider: str) -> str:
    """How to give an unpriced model a price (for the loud warning)."""
    return (
        f"model {model_name!r} ({provider}/{model_id}) has no price: its cells are UNPRICED "
        "(cost metrics absent, not zero). Add a [models.price] table (input_per_mtok, "
        'output_per_mtok, source_url, checked), or price_card = "ID" naming a card in the '
        "suite's price_cards file or the bundled cards (roibench/data/price_cards.yaml), "
        f'or "{GENAI_PREFIX}PROVIDER/MODEL".'
    )


DEFAULT_FX: FxTable = bundled_fx()
"""The bundled FX table (roibench/data/fx.yaml)."""


def call_cost_usd(
    usage: Usage,
    card: Pricer | PriceCard | None,
    at: datetime | None = None,
    fx: FxTable = DEFAULT_FX,
    *,
    busy_s: Decimal | None = None,
) -> Decimal | None:
    """USD cost of one call under a price source or card; None when unpriced. A compute card
    prices `busy_s`, the seconds the call kept a server slot busy (`CallRecord.busy_s`)."""
    if card is None:
        return None
    if isinstance(card, ComputePricer):
        return None if busy_s is None else card.cost_for(busy_s)
    when = at or datetime.now(UTC)
    if isinstance(card, PriceCard):
        native = card.cost_at(usage, _utc(when))
        return None if native is None else fx.to_usd(native, card.currency, _utc(when).date())
    return card.cost_usd(usage, when)


def snapshot_hash(snapshot: Mapping[str, Any]) -> str:
    """Short hash of a pricer snapshot (shows whether two runs used the same prices)."""
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()[:12]
