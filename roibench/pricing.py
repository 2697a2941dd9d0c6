"""Token prices: price cards (native currency, with provenance) and the cost of one call.

Money is Decimal. A price that is not known is None — never 0 — and a call priced by no card
has cost None, which the economics layer reports as "unpriced", naming the model.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roibench.usage import Usage

MTOK = Decimal(1_000_000)

Currency = Literal["USD", "CNY"]


class PriceCard(BaseModel):
    """List prices of one model, per million tokens, in the card's currency.

    A cache price left out means the provider bills those tokens at the input rate.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Model id as sent to the API.")
    provider: str | None = Field(None, description="Provider preset the card applies to.")
    currency: Currency = Field("USD", description="Currency of every price on the card.")
    input_per_mtok: Decimal = Field(ge=0, description="Uncached input, per 1M tokens.")
    cache_read_per_mtok: Decimal | None = Field(None, ge=0, description="Cache hits, per 1M.")
    cache_write_per_mtok: Decimal | None = Field(None, ge=0, description="Cache writes, per 1M.")
    output_per_mtok: Decimal = Field(ge=0, description="Output incl. reasoning, per 1M tokens.")
    source_url: str | None = Field(None, description="Where the prices were read.")
    checked: date | None = Field(None, description="When they were last checked there.")

    def cost(self, usage: Usage) -> Decimal:
        """Cost of `usage` in the card's currency."""
        cache_read_rate = (
            self.cache_read_per_mtok
            if self.cache_read_per_mtok is not None
            else self.input_per_mtok
        )
        cache_write_rate = (
            self.cache_write_per_mtok
            if self.cache_write_per_mtok is not None
            else self.input_per_mtok
        )
        total = (
            Decimal(usage.uncached_input_tokens) * self.input_per_mtok
            + Decimal(usage.cache_read_tokens) * cache_read_rate
            + Decimal(usage.cache_write_tokens) * cache_write_rate
            + Decimal(usage.output_tokens) * self.output_per_mtok
        )
        return total / MTOK

    def describe(self) -> str:
        """Short human-readable summary for params and reports."""
        parts = [f"in {self.input_per_mtok}"]
        if self.cache_read_per_mtok is not None:
            parts.append(f"cached {self.cache_read_per_mtok}")
        parts.append(f"out {self.output_per_mtok}")
        checked = f", checked {self.checked}" if self.checked else ""
        return f"{self.currency}/Mtok " + " / ".join(parts) + checked


class FxTable(BaseModel):
    """Dated exchange rates to USD: how many USD one unit of a currency bought on a date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    usd_per_unit: dict[str, Decimal] = Field(description="Currency code -> USD per unit.")
    as_of: date = Field(description="Date the rates were taken.")
    source_url: str | None = None

    def to_usd(self, amount: Decimal, currency: str) -> Decimal:
        """Convert `amount` in `currency` to USD."""
        if currency == "USD":
            return amount
        rate = self.usd_per_unit.get(currency)
        if rate is None:
            raise KeyError(f"no FX rate for {currency} in the table of {self.as_of}")
        return amount * rate


# 1 USD = 7.25 CNY: the rate genai-prices 0.2.3 states for its Zhipu conversion (May/June 2026),
# see shared/reference/genai-prices-cn.md. A suite can give its own dated table.
DEFAULT_FX = FxTable(
    usd_per_unit={"USD": Decimal(1), "CNY": Decimal(1) / Decimal("7.25")},
    as_of=date(2026, 6, 1),
    source_url="https://github.com/pydantic/genai-prices (zhipuai provider note)",
)


def call_cost_usd(
    usage: Usage,
    card: PriceCard | None,
    at: datetime | None = None,
    fx: FxTable = DEFAULT_FX,
) -> Decimal | None:
    """USD cost of one call's usage under `card`; None when the card is unknown."""
    del at  # time-dependent cards arrive with the economics issue; the argument is the API
    if card is None:
        return None
    return fx.to_usd(card.cost(usage), card.currency)
