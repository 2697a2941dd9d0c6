"""What the work is worth and how outcomes are priced: the value model a workflow declares
(human cost with its source) and the outcome-pricing scheme a suite names."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roibench.core.outcomes import Counts

ZERO = Decimal(0)


class ValueModel(BaseModel):
    """What the work costs when people do it, with the figure's source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str = Field(description="Unit of work, e.g. 'support ticket'.")
    human_cost_per_task_usd: Decimal = Field(gt=0, description="Fully loaded cost per unit.")
    escalation_cost_usd: Decimal | None = Field(
        default=None,
        ge=0,
        description="Cost of a human finishing an escalated unit; default: human cost.",
    )
    rework_cost_usd: Decimal = Field(
        default=ZERO,
        ge=0,
        description="Extra cost of undoing a wrong result, on top of redoing it.",
    )
    source: str = Field(description="Who published the human cost figure.")
    source_url: str | None = None
    as_of: date | None = Field(default=None, description="Date of the figure.")

    @property
    def escalation_usd(self) -> Decimal:
        """Escalation cost, defaulting to the human cost per task."""
        if self.escalation_cost_usd is not None:
            return self.escalation_cost_usd
        return self.human_cost_per_task_usd


class OutcomePricing(BaseModel):
    """An outcome-based price scheme, with its billable rule explicit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheme: Literal["per_resolution", "per_conversation", "per_action", "hybrid"] = Field(
        default="per_resolution", description="What is billed."
    )
    price_usd: Decimal = Field(ge=0, description="Price per billable unit.")
    base_fee_usd: Decimal = Field(default=ZERO, ge=0, description="Hybrid: fee per conversation.")
    bill_escalations: bool = Field(default=False, description="Escalated conversations are billed.")
    refund_harmful: bool = Field(
        default=True, description="Harmful outcomes are refunded, not billed."
    )
    reference: str = Field(
        default="", description="A published price this mirrors, e.g. Intercom Fin."
    )

    def billable_units(self, counts: Counts, actions: int) -> int:
        """How many units are billed for a cell's outcomes (`actions` = write tool calls)."""
        if self.scheme == "per_action":
            return actions
        if self.scheme == "per_conversation":
            units = counts.total
            if self.refund_harmful:
                units -= counts.harmful
            return units
        units = counts.resolved
        if self.bill_escalations:
            units += counts.escalated
        if not self.refund_harmful:
            # a harmful outcome looked resolved to the customer (e.g. an over-refund)
            units += counts.harmful
        return units

    def fees_usd(self, counts: Counts, actions: int) -> Decimal:
        """Total outcome-priced fees the buyer pays."""
        fees = self.price_usd * self.billable_units(counts, actions)
        if self.scheme == "hybrid":
            fees += self.base_fee_usd * counts.total
        return fees
