"""The sandbox's databases as typed tables, and WorkBench's comparison of two states.

Upstream keeps each database in a pandas DataFrame and grades by `DataFrame.equals` after
lower-casing string columns, so what counts is exactly what a DataFrame holds: the columns in
order, every row in order (duplicates included), each row's index label, and the values, where
a missing value (NaN, None) equals a missing value. A `Table` holds the same: columns, and rows
of (index label, values) with `None` for missing. The tools (`sandbox.py`) change tables the way
the pandas operations upstream uses change DataFrames, index labels included (a filter keeps
labels, `concat(ignore_index=True)` renumbers them, `loc[len(df)] = row` overwrites the row that
already carries that label).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

Value = str | None
"""A cell: a string, or None where pandas holds NaN."""

CASE_SENSITIVE = frozenset({"status", "list_name", "board"})
"""Columns upstream compares as they are; every other string is compared lower-cased."""


class TableName(StrEnum):
    """The graded databases (analytics data and the directory are read-only and not graded)."""

    CALENDAR = "calendar_events"
    EMAILS = "emails"
    PLOTS = "plots"
    PROJECT_TASKS = "project_tasks"
    CRM = "customer_relationship_manager_data"


@dataclass(frozen=True, slots=True)
class Row:
    """One row: its index label and its values, one per column of the table."""

    label: int
    values: tuple[Value, ...]


@dataclass(slots=True)
class Table:
    """A DataFrame's content: column names in order and rows in order."""

    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)

    def copy(self) -> Table:
        """A copy sharing the (immutable) rows."""
        return Table(self.columns, list(self.rows))

    def index(self, column: str) -> int:
        """Position of a column (KeyError when absent)."""
        return self.columns.index(column)

    def column(self, column: str) -> list[Value]:
        """Every row's value in a column."""
        i = self.index(column)
        return [r.values[i] for r in self.rows]

    def records(self) -> Iterator[dict[str, Value]]:
        """Rows as {column: value} in order (pandas' `to_dict(orient="records")`)."""
        for r in self.rows:
            yield dict(zip(self.columns, r.values, strict=True))

    def where(self, column: str, value: str) -> list[int]:
        """Positions of the rows whose `column` equals `value`."""
        i = self.index(column)
        return [p for p, r in enumerate(self.rows) if r.values[i] == value]


@dataclass(slots=True)
class State:
    """The five graded databases of one sandbox."""

    tables: dict[TableName, Table]

    def copy(self) -> State:
        """An independent copy (rows are immutable and shared)."""
        return State({name: t.copy() for name, t in self.tables.items()})

    def __getitem__(self, name: TableName) -> Table:
        return self.tables[name]


def _lowered(column: str, value: Value) -> Value:
    if value is None or column in CASE_SENSITIVE:
        return value
    return value.lower()


def normalised(table: Table, row: Row) -> tuple[Value, ...]:
    """A row's values as upstream compares them (lower-cased except the case-sensitive ones)."""
    return tuple(_lowered(c, v) for c, v in zip(table.columns, row.values, strict=True))


def tables_equal(a: Table, b: Table, *, lowercase: bool) -> bool:
    """`DataFrame.equals` of the two tables, after upstream's lower-casing if `lowercase`."""
    if a.columns != b.columns or len(a.rows) != len(b.rows):
        return False
    if a.rows == b.rows:
        return True  # fast: untouched rows are shared objects (list equality tries `is` first)
    for ra, rb in zip(a.rows, b.rows, strict=True):
        if ra is rb:
            continue  # untouched rows are shared with the base table
        if ra.label != rb.label:
            return False
        if ra.values == rb.values:
            continue
        if not lowercase or normalised(a, ra) != normalised(b, rb):
            return False
    return True


def states_equal(a: State, b: State, *, lowercase: bool) -> bool:
    """Every graded database equal (upstream's `is_correct` when `lowercase`, its
    "did the state change" test when not)."""
    return all(tables_equal(a[n], b[n], lowercase=lowercase) for n in TableName)
