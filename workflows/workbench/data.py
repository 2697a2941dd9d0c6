"""Reading WorkBench's published data from a folder the user names.

Accepted layouts (the first that holds `emails.csv` wins): a WorkBench checkout
(`<root>/data/processed/`), a data folder with `processed/` (as in ../shared/data/workbench),
or the processed folder itself. It must hold the five databases (`emails.csv`,
`calendar_events.csv`, `analytics_data.csv`, `customer_relationship_manager_data.csv`,
`project_tasks.csv`) and `queries_and_answers/<domain>_queries_and_answers.csv` for the six
domains. The CSVs are read as pandas reads them with `dtype=str`: every value a string, an
empty field missing (None). Each task's `answer` is a Python-literal list of call strings,
read with `ast.literal_eval` and parsed with `ast` (see `calls.parse_call`), never evaluated.

The company directory (upstream's `data/raw/email_addresses.csv`, not among the published
processed files) is taken as every `@atlas.com` address the databases mention, sorted.
"""

from __future__ import annotations

import ast
import csv
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from roibench.core.errors import InputError

from .calls import Call, Toolkit, parse_call
from .state import Row, State, Table, TableName, Value

DATABASE_FILES: dict[TableName, str] = {
    TableName.CALENDAR: "calendar_events.csv",
    TableName.EMAILS: "emails.csv",
    TableName.PROJECT_TASKS: "project_tasks.csv",
    TableName.CRM: "customer_relationship_manager_data.csv",
}
ANALYTICS_FILE = "analytics_data.csv"
PLOTS_COLUMNS = ("file_path",)
COMPANY_DOMAIN = "@atlas.com"


class Domain(StrEnum):
    """A WorkBench task file: one per toolkit with a database, and the multi-domain tasks."""

    ANALYTICS = "analytics"
    CALENDAR = "calendar"
    CUSTOMER_RELATIONSHIP_MANAGER = "customer_relationship_manager"
    EMAIL = "email"
    PROJECT_MANAGEMENT = "project_management"
    MULTI_DOMAIN = "multi_domain"


_DOMAIN_ALIASES = {"crm": Toolkit.CUSTOMER_RELATIONSHIP_MANAGER}


@dataclass(frozen=True, slots=True)
class Visit:
    """One row of the analytics data (read-only)."""

    date_of_visit: str
    visitor_id: str
    page_views: str
    session_duration_seconds: str
    traffic_source: str
    user_engaged: bool


@dataclass(frozen=True)
class Query:
    """One WorkBench task as published: the request and its ground-truth calls."""

    id: str
    """`<domain>-<row>`, the row counted from 0 as upstream's DataFrame index does."""
    domain: Domain
    query: str
    answer: tuple[str, ...]
    """The ground-truth call strings exactly as published."""
    calls: tuple[Call, ...]
    """The same calls, parsed."""
    toolkits: frozenset[Toolkit]
    """The task's `domains` column as toolkits ('crm' is the CRM)."""
    base_template: str
    chosen_template: str


@dataclass(frozen=True)
class WorkBenchData:
    """A loaded data folder: the databases, read-only data, tasks and a content hash."""

    root: Path
    base: State
    visits: tuple[Visit, ...]
    directory: tuple[str, ...]
    queries: tuple[Query, ...]
    sha256: str


def find_processed(root: Path) -> Path:
    """The folder holding the databases under `root`; InputError if there is none."""
    if not root.is_dir():
        raise InputError("WorkBench data folder not found", file=root)
    for candidate in (root / "data" / "processed", root / "processed", root):
        if (candidate / "emails.csv").is_file():
            return candidate
    raise InputError(
        "not a WorkBench data folder: expected emails.csv in data/processed/, processed/ or "
        "the folder itself (a clone of github.com/olly-styles/WorkBench, or its data folder)",
        file=root,
    )


def _read_csv(path: Path) -> tuple[tuple[str, ...], list[tuple[int, tuple[Value, ...]]]]:
    """Header and (line, values) rows; empty fields are missing, as pandas reads them."""
    if not path.is_file():
        raise InputError("file not found", file=path)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = tuple(next(reader))
        except StopIteration:
            raise InputError("empty CSV file", file=path) from None
        rows: list[tuple[int, tuple[Value, ...]]] = []
        for values in reader:
            if len(values) != len(header):
                raise InputError(
                    f"{len(values)} fields, the header has {len(header)}",
                    file=path,
                    line=reader.line_num,
                )
            rows.append((reader.line_num, tuple(v if v != "" else None for v in values)))
    return header, rows


def _table(path: Path, key: str) -> Table:
    header, rows = _read_csv(path)
    if key not in header:
        raise InputError(f"no '{key}' column", file=path, line=1, field=key)
    i = header.index(key)
    for line, values in rows:
        if values[i] is None:
            raise InputError("missing id", file=path, line=line, field=key)
    return Table(header, [Row(n, values) for n, (_, values) in enumerate(rows)])


def _visits(path: Path) -> tuple[Visit, ...]:
    header, rows = _read_csv(path)
    names = tuple(Visit.__dataclass_fields__)
    if header != names:
        raise InputError(f"columns {header} != expected {names}", file=path, line=1)
    visits = []
    for line, values in rows:
        if any(v is None for v in values):
            raise InputError("missing value", file=path, line=line)
        text = [v or "" for v in values]
        if text[5] not in ("True", "False"):
            raise InputError("not True/False", file=path, line=line, field="user_engaged")
        visits.append(Visit(*text[:5], user_engaged=text[5] == "True"))
    return tuple(visits)


def _directory(base: State) -> tuple[str, ...]:
    found: set[str] = set()
    for name, column in (
        (TableName.EMAILS, "sender/recipient"),
        (TableName.CALENDAR, "participant_email"),
        (TableName.CRM, "assigned_to_email"),
        (TableName.PROJECT_TASKS, "assigned_to_email"),
    ):
        found.update(
            v.lower() for v in base[name].column(column) if v and v.endswith(COMPANY_DOMAIN)
        )
    return tuple(sorted(found))


def _literal_list(text: str, path: Path, line: int, column: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        raise InputError("not a Python list literal", file=path, line=line, field=column) from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError("not a list of strings", file=path, line=line, field=column)
    return value


def _queries(folder: Path, domain: Domain) -> list[Query]:
    path = folder / "queries_and_answers" / f"{domain}_queries_and_answers.csv"
    header, rows = _read_csv(path)
    columns = ("query", "answer", "base_template", "chosen_template", "domains")
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=path, line=1)
    at = {c: header.index(c) for c in columns}
    out: list[Query] = []
    for n, (line, values) in enumerate(rows):

        def get(column: str, values: tuple[Value, ...] = values) -> str:
            return values[at[column]] or ""

        if not get("query"):
            raise InputError("empty query", file=path, line=line, field="query")
        answer = _literal_list(get("answer"), path, line, "answer")
        calls = []
        for text in answer:
            call = parse_call(text)
            if call is None:
                raise InputError(
                    f'not a call toolkit.function.func(name="value", ...): {text[:80]!r}',
                    file=path,
                    line=line,
                    field="answer",
                )
            calls.append(call)
        toolkits = set()
        for d in _literal_list(get("domains"), path, line, "domains"):
            try:
                toolkits.add(_DOMAIN_ALIASES.get(d) or Toolkit(d))
            except ValueError:
                raise InputError(
                    f"unknown domain {d!r}", file=path, line=line, field="domains"
                ) from None
        out.append(
            Query(
                id=f"{domain}-{n:03d}",
                domain=domain,
                query=get("query"),
                answer=tuple(answer),
                calls=tuple(calls),
                toolkits=frozenset(toolkits),
                base_template=get("base_template"),
                chosen_template=get("chosen_template"),
            )
        )
    return out


def _files(folder: Path) -> list[Path]:
    names = [*DATABASE_FILES.values(), ANALYTICS_FILE]
    names += [f"queries_and_answers/{d}_queries_and_answers.csv" for d in Domain]
    return [folder / n for n in sorted(names)]


@lru_cache(maxsize=4)
def load_workbench(root: Path) -> WorkBenchData:
    """Load a WorkBench data folder (cached: trials share one read-only copy)."""
    folder = find_processed(root)
    digest = hashlib.sha256()
    for path in _files(folder):
        if not path.is_file():
            raise InputError("file not found", file=path)
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    tables = {name: _table(folder / file, _key(name)) for name, file in DATABASE_FILES.items()}
    tables[TableName.PLOTS] = Table(PLOTS_COLUMNS, [])
    base = State(tables)
    queries = [q for d in Domain for q in _queries(folder, d)]
    return WorkBenchData(
        root=root,
        base=base,
        visits=_visits(folder / ANALYTICS_FILE),
        directory=_directory(base),
        queries=tuple(queries),
        sha256=digest.hexdigest(),
    )


def _key(name: TableName) -> str:
    return {
        TableName.CALENDAR: "event_id",
        TableName.EMAILS: "email_id",
        TableName.PROJECT_TASKS: "task_id",
        TableName.CRM: "customer_id",
        TableName.PLOTS: "file_path",
    }[name]


KEYS: dict[TableName, str] = {name: _key(name) for name in TableName}
"""Each graded table's id column (the first column)."""
