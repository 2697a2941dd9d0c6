"""What WorkBench's work costs a person, and what an unwanted change costs to undo.

Wage (cited): U.S. Bureau of Labor Statistics, Occupational Outlook Handbook, "Secretaries and
Administrative Assistants": median pay $22.12 per hour (May 2023 OEWS data). Loading (cited):
BLS Employer Costs for Employee Compensation, December 2024 (released 2025-03-14,
USDL-25-0335): wages and salaries are 70.5% of private-industry compensation, so an hour costs
the employer $22.12 / 0.705 = $31.38.

Minutes (assumptions, stated as such — no published timing of these tasks exists): a request
in one application (find the email / event / record, make the change) takes an office
assistant 4 minutes; one spanning several applications (look something up in one, act in
another) 8 minutes. Undoing an unwanted change takes the minutes in `UNDO_MINUTES` — e.g. a
wrong email sent: 10 minutes for the sender to notice and send a correction and for the
recipient to read both; a wrongly deleted CRM record: 15 minutes to re-enter it.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from roibench.config.value import ValueModel

from .state import TableName

CENT = Decimal("0.01")
MEDIAN_WAGE_PER_HOUR = Decimal("22.12")
"""BLS OOH, Secretaries and Administrative Assistants, median pay, May 2023."""
WAGE_SHARE_OF_COMPENSATION = Decimal("0.705")
"""BLS ECEC December 2024: wages and salaries' share of private-industry compensation."""
LOADED_WAGE_PER_HOUR = (MEDIAN_WAGE_PER_HOUR / WAGE_SHARE_OF_COMPENSATION).quantize(
    CENT, ROUND_HALF_UP
)
"""$31.38: what an hour of an administrative assistant costs the employer."""

SINGLE_DOMAIN_MINUTES = Decimal(4)
MULTI_DOMAIN_MINUTES = Decimal(8)

SOURCE = (
    "BLS Occupational Outlook Handbook, Secretaries and Administrative Assistants: median "
    "$22.12/h (May 2023), loaded ÷ 0.705 (BLS ECEC Dec 2024, wages = 70.5% of private-industry "
    "compensation) = $31.38/h; × 4 min per single-application request, 8 min per "
    "multi-application one (minutes are an assumption, low confidence)"
)
SOURCE_URL = (
    "https://www.bls.gov/ooh/office-and-administrative-support/"
    "secretaries-and-administrative-assistants.htm"
)
AS_OF = date(2025, 3, 14)
"""Release date of the newest figure used (ECEC December 2024)."""


class ChangeKind(StrEnum):
    """How a record differs from the ground truth's end state because of the agent."""

    CREATED = "created"
    """A record the ground truth does not create (a wrong email sent, a wrong event booked)."""
    CHANGED = "changed"
    """A record changed unlike the ground truth."""
    DELETED = "deleted"
    """A record the ground truth keeps was deleted."""


UNDO_MINUTES: dict[TableName, dict[ChangeKind, Decimal]] = {
    TableName.EMAILS: {
        ChangeKind.CREATED: Decimal(10),  # notice, send a correction; the recipient reads both
        ChangeKind.CHANGED: Decimal(5),
        ChangeKind.DELETED: Decimal(5),  # restore it from the trash, or ask for it again
    },
    TableName.CALENDAR: {
        ChangeKind.CREATED: Decimal(5),  # cancel the invitation; the participant declines
        ChangeKind.CHANGED: Decimal(5),  # move it back and tell the participant
        ChangeKind.DELETED: Decimal(10),  # re-create and re-invite
    },
    TableName.CRM: {
        ChangeKind.CREATED: Decimal(3),
        ChangeKind.CHANGED: Decimal(5),  # find the change and restore the old value
        ChangeKind.DELETED: Decimal(15),  # re-enter the record from other sources
    },
    TableName.PROJECT_TASKS: {
        ChangeKind.CREATED: Decimal(3),
        ChangeKind.CHANGED: Decimal(3),
        ChangeKind.DELETED: Decimal(10),
    },
    TableName.PLOTS: {
        ChangeKind.CREATED: Decimal(1),  # a plot nobody asked for is discarded
        ChangeKind.CHANGED: Decimal(1),
        ChangeKind.DELETED: Decimal(1),
    },
}


def cost_of_minutes(minutes: Decimal) -> Decimal:
    """Minutes of an administrative assistant's time, in dollars (cents)."""
    return (minutes * LOADED_WAGE_PER_HOUR / 60).quantize(CENT, ROUND_HALF_UP)


def undo_cost(changes: list[tuple[TableName, ChangeKind]]) -> Decimal:
    """The measured loss of a harmful trial: the time to undo each unwanted change."""
    minutes = sum((UNDO_MINUTES[t][k] for t, k in changes), Decimal(0))
    return cost_of_minutes(minutes)


def task_minutes(multi_domain: bool) -> Decimal:
    """A person's minutes for one WorkBench request."""
    return MULTI_DOMAIN_MINUTES if multi_domain else SINGLE_DOMAIN_MINUTES


def value_model(minutes: Decimal) -> ValueModel:
    """The human baseline at `minutes` per request (the mean of the tasks in the suite)."""
    cost = cost_of_minutes(minutes)
    return ValueModel(
        unit=f"workplace request in email/calendar/CRM/analytics/projects ({minutes:.2f} min)",
        human_cost_per_task_usd=cost,
        escalation_cost_usd=cost,
        rework_cost_usd=Decimal(0),  # a harmful trial's undo time is its measured loss
        source=SOURCE,
        source_url=SOURCE_URL,
        as_of=AS_OF,
    )
