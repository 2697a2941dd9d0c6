"""WorkBench's tools, written here from its published tool specification.

Each method is one upstream tool (`<toolkit>.<function>`): the same parameters and defaults,
the same messages, and — for the fourteen tools that write — the same effect on the
databases, down to the detail the grader sees (`state.py`): which columns change, how a new
record's id is assigned (`str(int(max(ids)) + 1)`, zero-padded to 8 digits except for emails),
which index label the new row gets, what a call on a missing id does (nothing, and a message).
Read tools never change a table. The sandbox's clock is fixed at `NOW` (2023-11-30 00:00, a
Thursday): a sent email is dated then, whatever the host clock says.

A `SandboxError` is what upstream's code would raise (e.g. an unparseable date): the agent
sees it as a tool error, and the grader skips the call as upstream's `eval` loop does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeAlias

from .calls import Call, Toolkit
from .data import Visit, WorkBenchData
from .state import Row, State, Table, TableName, Value

Json: TypeAlias = "str | int | float | bool | list[Json] | dict[str, Json] | None"

NOW = datetime(2023, 11, 30, 0, 0, 0)
"""The sandbox's fixed 'now' (upstream's HARDCODED_CURRENT_TIME)."""
NOW_TEXT = NOW.strftime("%Y-%m-%d %H:%M:%S")

CRM_STATUSES = ("Qualified", "Won", "Lost", "Lead", "Proposal")
CRM_PRODUCTS = ("Software", "Hardware", "Services", "Consulting", "Training")
TASK_LISTS = ("Backlog", "In Progress", "In Review", "Completed")
TASK_BOARDS = ("Back end", "Front end", "Design")
PLOT_VALUES = (
    "total_visits",
    "session_duration_seconds",
    "user_engaged",
    "visits_direct",
    "visits_referral",
    "visits_search_engine",
    "visits_social_media",
)
PLOT_TYPES = ("bar", "line", "scatter", "histogram")
SEARCH_LIMIT = 5


class SandboxError(Exception):
    """What upstream's tool would raise: a tool error for the agent, a skipped call for the
    grader."""


def _timestamp(text: str) -> datetime:
    """A date or date-time as pandas.Timestamp reads the formats the data uses."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise SandboxError(f"could not parse {text!r} as a date/time") from None


def _contains(pattern: str, value: Value) -> bool:
    """pandas `str.contains(pattern, case=False)`: a case-insensitive regex search; a
    missing value never matches."""
    if value is None:
        return False
    try:
        return re.search(pattern, value, flags=re.IGNORECASE) is not None
    except re.error as exc:
        raise SandboxError(f"invalid search pattern {pattern!r}: {exc}") from None


def _next_id(table: Table, column: str, *, width: int | None) -> str:
    """`str(int(df[column].max()) + 1)` (the max of the strings), zero-padded to `width`."""
    present = [v for v in table.column(column) if v is not None]
    if not present:
        raise SandboxError(f"no {column} to continue from")
    try:
        number = int(max(present)) + 1
    except ValueError:
        raise SandboxError(f"{column} {max(present)!r} is not a number") from None
    text = str(number)
    return text.zfill(width) if width else text


def _filter(table: Table, column: str, value: str) -> None:
    """`df = df[df[column] != value]`: drop the matching rows, keep the others' labels."""
    i = table.index(column)
    table.rows = [r for r in table.rows if r.values[i] != value]


def _set(table: Table, column: str, key: str, field: str, value: str) -> None:
    """`df.loc[df[column] == key, field] = value`; a new `field` becomes a new last column,
    missing in every other row."""
    if field not in table.columns:
        table.columns = (*table.columns, field)
        table.rows = [Row(r.label, (*r.values, None)) for r in table.rows]
    k, f = table.index(column), table.index(field)
    table.rows = [
        Row(r.label, (*r.values[:f], value, *r.values[f + 1 :])) if r.values[k] == key else r
        for r in table.rows
    ]


def _append(table: Table, values: dict[str, Value], *, relabel: bool) -> None:
    """`pd.concat([df, one_row_frame])`: the new row gets label 0 (its own frame's index), or
    with `ignore_index=True` every row is renumbered 0..n-1. Columns the new row lacks are
    missing; the new frame names only existing columns."""
    row = tuple(values.get(c) for c in table.columns)
    rows = [*table.rows, Row(0, row)]
    table.rows = [Row(n, r.values) for n, r in enumerate(rows)] if relabel else rows


def _set_at_label(table: Table, values: tuple[Value, ...]) -> None:
    """`df.loc[len(df)] = values`: overwrite the row(s) labelled len(df), else append one with
    that label. After a deletion the label len(df) can belong to an existing row."""
    label = len(table.rows)
    if any(r.label == label for r in table.rows):
        table.rows = [Row(label, values) if r.label == label else r for r in table.rows]
    else:
        table.rows = [*table.rows, Row(label, values)]


def _records(table: Table, positions: list[int]) -> list[Json]:
    """The rows at `positions` as {column: value} (pandas' `to_dict(orient="records")`)."""
    return [dict(zip(table.columns, table.rows[p].values, strict=True)) for p in positions]


def _text(value: Value) -> str:
    """How an f-string renders a cell: a missing value (NaN) as 'nan'."""
    return "nan" if value is None else value


def _field_of(table: Table, key_column: str, key: str | None, field: str | None) -> Json:
    """The `get_..._information_by_id` tools: {field: value} of the first row with the id."""
    noun = {"event_id": "Event", "email_id": "Email", "task_id": "Task"}[key_column]
    if not key:
        return f"{noun} ID not provided."
    if not field:
        return "Field not provided."
    hits = table.where(key_column, key)
    if not hits:
        return f"{noun} not found."
    record = dict(zip(table.columns, table.rows[hits[0]].values, strict=True))
    if field not in record:
        return "Field not found."
    return {field: record[field]}


@dataclass(frozen=True)
class ToolInfo:
    """An upstream tool: its dotted name, toolkit, parameters with defaults, and whether it
    writes (upstream's `tools_with_side_effects`)."""

    name: str
    toolkit: Toolkit
    params: tuple[tuple[str, str | None], ...]
    write: bool


class Sandbox:
    """One copy of the databases and the tools over it."""

    def __init__(self, data: WorkBenchData) -> None:
        self.data = data
        self.state: State = data.base.copy()

    @property
    def visits(self) -> tuple[Visit, ...]:
        """The analytics data (read-only)."""
        return self.data.visits

    # -- executing calls ------------------------------------------------------------------

    def execute(self, call: Call) -> Json:
        """Run a parsed call; SandboxError when upstream's `eval` of it would raise (unknown
        tool, unknown argument, an error inside the tool)."""
        info = TOOLS.get(call.tool)
        if info is None:
            raise SandboxError(f"unknown tool {call.tool!r}")
        known = {p for p, _ in info.params}
        unknown = [k for k, _ in call.kwargs if k not in known]
        if unknown:
            raise SandboxError(f"unexpected argument(s) {', '.join(unknown)}")
        return self.run(call.tool, call.args)

    def run(self, tool: str, args: Mapping[str, str | None]) -> Json:
        """Run a tool by dotted name with (validated) arguments, defaults filled in."""
        info = TOOLS[tool]
        full = {p: args.get(p, default) for p, default in info.params}
        return _IMPL[tool](self, **full)

    # -- analytics --------------------------------------------------------------------------

    def _visits_between(self, time_min: str | None, time_max: str | None) -> list[Visit]:
        # upstream compares the date strings (YYYY-MM-DD), not dates
        return [
            v
            for v in self.visits
            if (not time_min or v.date_of_visit >= time_min)
            and (not time_max or v.date_of_visit <= time_max)
        ]

    def analytics_get_visitor_information_by_id(self, visitor_id: str | None) -> Json:
        if not visitor_id:
            return "Visitor ID not provided."
        found: list[Json] = [
            {
                "date_of_visit": v.date_of_visit,
                "visitor_id": v.visitor_id,
                "page_views": v.page_views,
                "session_duration_seconds": v.session_duration_seconds,
                "traffic_source": v.traffic_source,
                "user_engaged": v.user_engaged,
            }
            for v in self.visits
            if v.visitor_id == visitor_id
        ]
        return found or "Visitor not found."

    def analytics_create_plot(
        self,
        time_min: str | None,
        time_max: str | None,
        value_to_plot: str | None,
        plot_type: str | None,
    ) -> Json:
        if not time_min:
            return "Start date not provided."
        if not time_max:
            return "End date not provided."
        if value_to_plot not in PLOT_VALUES:
            return (
                "Value to plot must be one of 'total_visits', 'session_duration_seconds', "
                "'user_engaged', 'direct', 'referral', 'search engine', 'social media'"
            )
        if plot_type not in PLOT_TYPES:
            return "Plot type must be one of 'bar', 'line', 'scatter', or 'histogram'"
        file_path = f"plots/{time_min}_{time_max}_{value_to_plot}_{plot_type}.png"
        _set_at_label(self.state[TableName.PLOTS], (file_path,))
        return file_path

    def analytics_total_visits_count(self, time_min: str | None, time_max: str | None) -> Json:
        counts: dict[str, int] = {}
        for v in sorted(self._visits_between(time_min, time_max), key=lambda v: v.date_of_visit):
            counts[v.date_of_visit] = counts.get(v.date_of_visit, 0) + 1
        return dict(counts)

    def analytics_engaged_users_count(self, time_min: str | None, time_max: str | None) -> Json:
        counts: dict[str, int] = {}
        for v in sorted(self._visits_between(time_min, time_max), key=lambda v: v.date_of_visit):
            counts[v.date_of_visit] = counts.get(v.date_of_visit, 0) + int(v.user_engaged)
        return dict(counts)

    def analytics_traffic_source_count(
        self, time_min: str | None, time_max: str | None, traffic_source: str | None
    ) -> Json:
        counts: dict[str, int] = {}
        for v in sorted(self._visits_between(time_min, time_max), key=lambda v: v.date_of_visit):
            hit = 1 if not traffic_source or v.traffic_source == traffic_source else 0
            counts[v.date_of_visit] = counts.get(v.date_of_visit, 0) + hit
        return dict(counts)

    def analytics_get_average_session_duration(
        self, time_min: str | None, time_max: str | None
    ) -> Json:
        sums: dict[str, list[float]] = {}
        for v in sorted(self._visits_between(time_min, time_max), key=lambda v: v.date_of_visit):
            try:
                seconds = float(v.session_duration_seconds)
            except ValueError:
                raise SandboxError(f"not a number: {v.session_duration_seconds!r}") from None
            sums.setdefault(v.date_of_visit, []).append(seconds)
        return {d: sum(xs) / len(xs) for d, xs in sums.items()}

    # -- calendar -----------------------------------------------------------------------------

    @property
    def _events(self) -> Table:
        return self.state[TableName.CALENDAR]

    def calendar_get_event_information_by_id(self, event_id: str | None, field: str | None) -> Json:
        return _field_of(self._events, "event_id", event_id, field)

    def calendar_search_events(
        self, query: str | None, time_min: str | None, time_max: str | None
    ) -> Json:
        if query is None:
            raise SandboxError("query must be a string")
        t = self._events
        name, email = t.index("event_name"), t.index("participant_email")
        start = t.index("event_start")
        hits = [
            p
            for p, r in enumerate(t.rows)
            if _contains(query, r.values[name]) or _contains(query, r.values[email])
        ]
        if time_min:
            lo = _timestamp(time_min)
            hits = [p for p in hits if _timestamp(t.rows[p].values[start] or "") >= lo]
        if time_max:
            hi = _timestamp(time_max)
            hits = [p for p in hits if _timestamp(t.rows[p].values[start] or "") <= hi]
        return _records(t, hits[:SEARCH_LIMIT]) or "No events found."

    def calendar_create_event(
        self,
        event_name: str | None,
        participant_email: str | None,
        event_start: str | None,
        duration: str | None,
    ) -> Json:
        if not event_name:
            return "Event name not provided."
        if not participant_email:
            return "Participant email not provided."
        if not event_start:
            return "Event start not provided."
        if not duration:
            return "Event duration not provided."
        event_id = _next_id(self._events, "event_id", width=8)
        _append(
            self._events,
            {
                "event_id": event_id,
                "event_name": event_name,
                "participant_email": participant_email.lower(),
                "event_start": event_start,
                "duration": duration,
            },
            relabel=False,
        )
        return event_id

    def calendar_delete_event(self, event_id: str | None) -> Json:
        if not event_id:
            return "Event ID not provided."
        if not self._events.where("event_id", event_id):
            return "Event not found."
        _filter(self._events, "event_id", event_id)
        return "Event deleted successfully."

    def calendar_update_event(
        self, event_id: str | None, field: str | None, new_value: str | None
    ) -> Json:
        if not event_id or not field or not new_value:
            return "Event ID, field, or new value not provided."
        if not self._events.where("event_id", event_id):
            return "Event not found."
        if field == "participant_email":
            new_value = new_value.lower()
        _set(self._events, "event_id", event_id, field, new_value)
        return "Event updated successfully."

    # -- company directory ----------------------------------------------------------------------

    def company_directory_find_email_address(self, name: str | None) -> Json:
        if name is None:
            raise SandboxError("name must be a string")
        if name == "":
            return "Name not provided."
        needle = name.lower()
        return [a for a in self.data.directory if needle in a]

    # -- customer relationship manager ----------------------------------------------------------

    @property
    def _crm(self) -> Table:
        return self.state[TableName.CRM]

    def customer_relationship_manager_search_customers(
        self,
        customer_name: str | None,
        customer_email: str | None,
        product_interest: str | None,
        status: str | None,
        assigned_to_email: str | None,
        last_contact_date_min: str | None,
        last_contact_date_max: str | None,
        follow_up_by_min: str | None,
        follow_up_by_max: str | None,
    ) -> Json:
        contains = {
            "customer_name": customer_name,
            "customer_email": customer_email,
            "product_interest": product_interest,
            "status": status,
            "assigned_to_email": assigned_to_email,
        }
        bounds: list[tuple[str, str | None, Callable[[str, str], bool]]] = [
            ("last_contact_date", last_contact_date_min, lambda v, b: v >= b),
            ("last_contact_date", last_contact_date_max, lambda v, b: v <= b),
            ("follow_up_by", follow_up_by_min, lambda v, b: v >= b),
            ("follow_up_by", follow_up_by_max, lambda v, b: v <= b),
        ]
        if not any(contains.values()) and not any(b for _, b, _ in bounds):
            return "No search parameters provided. Please provide at least one parameter."
        t = self._crm
        hits = list(range(len(t.rows)))
        for column, pattern in contains.items():
            if pattern:
                i = t.index(column)
                hits = [p for p in hits if _contains(pattern, t.rows[p].values[i])]
        for column, bound, keep in bounds:
            if bound:
                i = t.index(column)
                hits = [
                    p for p in hits if (v := t.rows[p].values[i]) is not None and keep(v, bound)
                ]
        return _records(t, hits[:SEARCH_LIMIT])

    def customer_relationship_manager_update_customer(
        self, customer_id: str | None, field: str | None, new_value: str | None
    ) -> Json:
        if not customer_id or not field or not new_value:
            return "Customer ID, field, or new value not provided."
        if field == "status" and new_value not in CRM_STATUSES:
            return "Status not valid. Please choose from: " + ", ".join(
                repr(s) for s in CRM_STATUSES
            )
        if field == "product_interest" and new_value not in CRM_PRODUCTS:
            return "Product interest not valid. Please choose from: " + ", ".join(
                repr(p) for p in CRM_PRODUCTS
            )
        if field in ("customer_email", "assigned_to_email"):
            new_value = new_value.lower()
        if not self._crm.where("customer_id", customer_id):
            return "Customer not found."
        if field not in self._crm.columns:
            return "Field not valid."
        _set(self._crm, "customer_id", customer_id, field, new_value)
        return "Customer updated successfully."

    def customer_relationship_manager_add_customer(
        self,
        customer_name: str | None,
        assigned_to_email: str | None,
        status: str | None,
        customer_email: str | None,
        customer_phone: str | None,
        last_contact_date: str | None,
        product_interest: str | None,
        notes: str | None,
        follow_up_by: str | None,
    ) -> Json:
        if not customer_name or not assigned_to_email or not status:
            return "Please provide all required fields: customer_name, assigned_to_email, status."
        new_id = _next_id(self._crm, "customer_id", width=8)
        _append(
            self._crm,
            {
                "customer_id": new_id,
                "customer_name": customer_name,
                "customer_email": customer_email.lower() if customer_email else customer_email,
                "customer_phone": customer_phone,
                "last_contact_date": last_contact_date,
                "product_interest": product_interest,
                "status": status,
                "assigned_to_email": assigned_to_email.lower(),
                "notes": notes,
                "follow_up_by": follow_up_by,
            },
            relabel=True,
        )
        return new_id

    def customer_relationship_manager_delete_customer(self, customer_id: str | None) -> Json:
        if not customer_id:
            return "Customer ID not provided."
        if not self._crm.where("customer_id", customer_id):
            return "Customer not found."
        _filter(self._crm, "customer_id", customer_id)
        return "Customer deleted successfully."

    # -- email ----------------------------------------------------------------------------------

    @property
    def _emails(self) -> Table:
        return self.state[TableName.EMAILS]

    def email_get_email_information_by_id(self, email_id: str | None, field: str | None) -> Json:
        return _field_of(self._emails, "email_id", email_id, field)

    def email_search_emails(
        self, query: str | None, date_min: str | None, date_max: str | None
    ) -> Json:
        if query is None:
            raise SandboxError("query must be a string")
        words = query.lower().split()
        t = self._emails
        s, b, who, sent = (
            t.index("subject"),
            t.index("body"),
            t.index("sender/recipient"),
            t.index("sent_datetime"),
        )

        hits = [
            p
            for p, r in enumerate(t.rows)
            if all(
                w in f"{_text(r.values[s])} {_text(r.values[b])} {_text(r.values[who])}".lower()
                for w in words
            )
        ]
        hits.sort(key=lambda p: t.rows[p].values[sent] or "", reverse=True)  # newest first
        if date_min:
            lo = _timestamp(date_min).date()
            hits = [p for p in hits if _day(t.rows[p].values[sent]) >= lo]
        if date_max:
            hi = _timestamp(date_max).date()
            hits = [p for p in hits if _day(t.rows[p].values[sent]) <= hi]
        return _records(t, hits[:SEARCH_LIMIT]) or "No emails found."

    def email_send_email(
        self, recipient: str | None, subject: str | None, body: str | None
    ) -> Json:
        if not recipient or not subject or not body:
            return "Recipient, subject, or body not provided."
        if "@" not in recipient or "." not in recipient:
            return "Invalid recipient email address."
        email_id = _next_id(self._emails, "email_id", width=None)  # upstream does not pad
        values = {
            "email_id": email_id,
            "inbox/outbox": "outbox",
            "sender/recipient": recipient.lower(),
            "subject": subject,
            "sent_datetime": NOW_TEXT,
            "body": body,
        }
        _set_at_label(self._emails, tuple(values.get(c) for c in self._emails.columns))
        return "Email sent successfully."

    def email_delete_email(self, email_id: str | None) -> Json:
        if not email_id:
            return "Email ID not provided."
        if not self._emails.where("email_id", email_id):
            return "Email not found."
        _filter(self._emails, "email_id", email_id)
        return "Email deleted successfully."

    def _email(self, email_id: str) -> dict[str, Value]:
        t = self._emails
        return dict(zip(t.columns, t.rows[t.where("email_id", email_id)[0]].values, strict=True))

    def email_forward_email(self, email_id: str | None, recipient: str | None) -> Json:
        if not email_id or not recipient:
            return "Email ID or recipient not provided."
        if not self._emails.where("email_id", email_id):
            return "Email not found."
        if "@" not in recipient or "." not in recipient:
            return "Invalid recipient email address."
        email = self._email(email_id)
        result = self.email_send_email(
            recipient.lower(), f"FW: {_text(email['subject'])}", email["body"]
        )
        return "Email forwarded successfully." if result == "Email sent successfully." else result

    def email_reply_email(self, email_id: str | None, body: str | None) -> Json:
        if not email_id or not body:
            return "Email ID or body not provided."
        if not self._emails.where("email_id", email_id):
            return "Email not found."
        email = self._email(email_id)
        result = self.email_send_email(email["sender/recipient"], _text(email["subject"]), body)
        return "Email replied successfully." if result == "Email sent successfully." else result

    # -- project management ------------------------------------------------------------------

    @property
    def _tasks(self) -> Table:
        return self.state[TableName.PROJECT_TASKS]

    def project_management_get_task_information_by_id(
        self, task_id: str | None, field: str | None
    ) -> Json:
        return _field_of(self._tasks, "task_id", task_id, field)

    def project_management_search_tasks(
        self,
        task_name: str | None,
        assigned_to_email: str | None,
        list_name: str | None,
        due_date: str | None,
        board: str | None,
    ) -> Json:
        given = {
            "task_name": task_name,
            "assigned_to_email": assigned_to_email,
            "list_name": list_name,
            "due_date": due_date,
            "board": board,
        }
        if not any(given.values()):
            return "No search parameters provided."
        t = self._tasks
        hits = list(range(len(t.rows)))
        for column, pattern in given.items():
            if pattern:
                i = t.index(column)
                hits = [p for p in hits if _contains(pattern, t.rows[p].values[i])]
        return _records(t, hits)

    def _assignees(self) -> set[str]:
        return {v.lower() for v in self._tasks.column("assigned_to_email") if v is not None}

    def project_management_create_task(
        self,
        task_name: str | None,
        assigned_to_email: str | None,
        list_name: str | None,
        due_date: str | None,
        board: str | None,
    ) -> Json:
        if not task_name or not assigned_to_email or not list_name or not due_date or not board:
            return "Missing task details."
        assigned_to_email = assigned_to_email.lower()
        if assigned_to_email not in self._assignees():
            return "Assignee email not valid. Please choose from the list of team members."
        if list_name not in TASK_LISTS:
            return "List not valid. Please choose from: " + ", ".join(repr(x) for x in TASK_LISTS)
        if board not in TASK_BOARDS:
            return "Board not valid. Please choose from: " + ", ".join(repr(x) for x in TASK_BOARDS)
        task_id = _next_id(self._tasks, "task_id", width=8)
        _append(
            self._tasks,
            {
                "task_id": task_id,
                "task_name": task_name,
                "assigned_to_email": assigned_to_email,
                "list_name": list_name,
                "due_date": due_date,
                "board": board,
            },
            relabel=True,
        )
        return task_id

    def project_management_delete_task(self, task_id: str | None) -> Json:
        if not task_id:
            return "Task ID not provided."
        if not self._tasks.where("task_id", task_id):
            return "Task not found."
        _filter(self._tasks, "task_id", task_id)
        return "Task deleted successfully."

    def project_management_update_task(
        self, task_id: str | None, field: str | None, new_value: str | None
    ) -> Json:
        if not task_id or not field or not new_value:
            return "Task ID, field, or new value not provided."
        if field == "assigned_to_email":
            new_value = new_value.lower()
        if field == "board" and new_value not in TASK_BOARDS:
            return "Board not valid. Please choose from: " + ", ".join(repr(x) for x in TASK_BOARDS)
        if field == "list_name" and new_value not in TASK_LISTS:
            return "List not valid. Please choose from: " + ", ".join(repr(x) for x in TASK_LISTS)
        if field == "assigned_to_email" and new_value not in self._assignees():
            return "Assignee email not valid. Please choose from the list of team members."
        if not self._tasks.where("task_id", task_id):
            return "Task not found."
        if field not in self._tasks.columns:
            return "Field not valid."
        _set(self._tasks, "task_id", task_id, field, new_value)
        return "Task updated successfully."


def _day(value: Value) -> date:
    return _timestamp(value or "").date()


def _info(name: str, params: str, *, write: bool = False) -> ToolInfo:
    """A ToolInfo from 'a, b=, c=x' (no '=': default None; '=': default '')."""
    parsed: list[tuple[str, str | None]] = []
    for part in params.split(","):
        part = part.strip()
        if part.endswith("=''"):
            parsed.append((part[:-3], ""))
        else:
            parsed.append((part, None))
    toolkit = Toolkit(name.partition(".")[0])
    return ToolInfo(name=name, toolkit=toolkit, params=tuple(parsed), write=write)


# Parameters and defaults as upstream declares them (../shared/data/workbench/derived/tools.json);
# "=''" marks a parameter whose default is the empty string, every other default is None.
TOOLS: dict[str, ToolInfo] = {
    t.name: t
    for t in (
        _info("analytics.get_visitor_information_by_id", "visitor_id"),
        _info("analytics.create_plot", "time_min, time_max, value_to_plot, plot_type", write=True),
        _info("analytics.total_visits_count", "time_min, time_max"),
        _info("analytics.engaged_users_count", "time_min, time_max"),
        _info("analytics.traffic_source_count", "time_min, time_max, traffic_source"),
        _info("analytics.get_average_session_duration", "time_min, time_max"),
        _info("calendar.get_event_information_by_id", "event_id, field"),
        _info("calendar.search_events", "query='', time_min, time_max"),
        _info(
            "calendar.create_event",
            "event_name, participant_email, event_start, duration",
            write=True,
        ),
        _info("calendar.delete_event", "event_id", write=True),
        _info("calendar.update_event", "event_id, field, new_value", write=True),
        _info("company_directory.find_email_address", "name=''"),
        _info(
            "customer_relationship_manager.search_customers",
            "customer_name, customer_email, product_interest, status, assigned_to_email, "
            "last_contact_date_min, last_contact_date_max, follow_up_by_min, follow_up_by_max",
        ),
        _info(
            "customer_relationship_manager.update_customer",
            "customer_id, field, new_value",
            write=True,
        ),
        _info(
            "customer_relationship_manager.add_customer",
            "customer_name, assigned_to_email, status, customer_email, customer_phone, "
            "last_contact_date, product_interest, notes='', follow_up_by",
            write=True,
        ),
        _info("customer_relationship_manager.delete_customer", "customer_id", write=True),
        _info("email.get_email_information_by_id", "email_id, field"),
        _info("email.search_emails", "query='', date_min, date_max"),
        _info("email.send_email", "recipient, subject, body", write=True),
        _info("email.delete_email", "email_id", write=True),
        _info("email.forward_email", "email_id, recipient", write=True),
        _info("email.reply_email", "email_id, body", write=True),
        _info("project_management.get_task_information_by_id", "task_id, field"),
        _info(
            "project_management.search_tasks",
            "task_name, assigned_to_email, list_name, due_date, board",
        ),
        _info(
            "project_management.create_task",
            "task_name, assigned_to_email, list_name, due_date, board",
            write=True,
        ),
        _info("project_management.delete_task", "task_id", write=True),
        _info("project_management.update_task", "task_id, field, new_value", write=True),
    )
}

_IMPL: dict[str, Callable[..., Json]] = {
    name: getattr(Sandbox, name.replace(".", "_")) for name in TOOLS
}
WRITE_TOOLS = frozenset(n for n, t in TOOLS.items() if t.write)
"""Upstream's tools_with_side_effects, dotted."""


def replay(data: WorkBenchData, calls: list[Call | None]) -> Sandbox:
    """A fresh sandbox after executing `calls` in order, skipping what upstream's grader
    skips: a call it could not parse (None) and a call that raises."""
    box = Sandbox(data)
    for call in calls:
        if call is None:
            continue
        try:
            box.execute(call)
        except SandboxError:
            continue
    return box
