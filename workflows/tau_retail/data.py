"""Reading τ-bench retail data from a directory the user names, in either published layout.

- τ²-bench domain directory (e.g. `tau2-bench/data/tau2/domains/retail` in a checkout):
  `db.json`, `tasks.json`, `policy.md`, `split_tasks.json`.
- τ-bench layout: `orders.json`, `products.json`, `users.json`, `wiki.md` (the policy), and the
  tasks as JSON (`tasks_<split>.json`, in the directory or its `derived/` folder), each task
  `{user_id, instruction, actions: [{name, kwargs}], outputs, task_index?}`.

Nothing here is copied from either project; the data stays where the user keeps it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from roibench.config.tasks import Action
from roibench.core.errors import InputError

Layout = Literal["tau2", "tau"]
TAU2_FILES = ("db.json", "tasks.json", "policy.md")
TAU_FILES = ("orders.json", "products.json", "users.json", "wiki.md")


@dataclass(frozen=True)
class TauTask:
    """One τ task as published: the user's instruction, gold actions and required outputs."""

    id: str
    instruction: str
    actions: tuple[Action, ...]
    outputs: tuple[str, ...]
    user_id: str | None


@dataclass(frozen=True)
class TauData:
    """A loaded directory: database, policy, the split's tasks, and a content hash."""

    root: Path
    layout: Layout
    db: dict[str, dict[str, Any]]
    policy: str
    tasks: tuple[TauTask, ...]
    sha256: str


def detect_layout(root: Path) -> Layout:
    """Which layout `root` holds; InputError naming what is missing otherwise."""
    if not root.is_dir():
        raise InputError("τ-bench data directory not found", file=root)
    if all((root / f).is_file() for f in TAU2_FILES):
        return "tau2"
    if all((root / f).is_file() for f in TAU_FILES):
        return "tau"
    raise InputError(
        f"not a τ-bench retail directory: expected {', '.join(TAU2_FILES)} (τ²-bench) or "
        f"{', '.join(TAU_FILES)} plus tasks_<split>.json (τ-bench)",
        file=root,
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=path, line=exc.lineno) from None


@lru_cache(maxsize=4)
def _load_db(root: Path, layout: Layout) -> tuple[dict[str, dict[str, Any]], str]:
    """The database and the SHA-256 of its file(s); cached: trials share one read-only copy."""
    digest = hashlib.sha256()
    if layout == "tau2":
        raw = (root / "db.json").read_bytes()
        digest.update(raw)
        db = _read_json(root / "db.json")
    else:
        db = {}
        for name in ("orders", "products", "users"):
            digest.update((root / f"{name}.json").read_bytes())
            db[name] = _read_json(root / f"{name}.json")
    for name in ("orders", "products", "users"):
        if not isinstance(db.get(name), dict):
            raise InputError(f"database lacks the '{name}' table", file=root)
    return db, digest.hexdigest()


def _tau2_instruction(scenario: dict[str, Any]) -> str:
    """A τ²-bench user scenario as one instruction text for the user simulator."""
    ins = scenario.get("instructions") or {}
    if isinstance(ins, str):
        return ins.strip()
    parts = []
    for key, label in (
        ("reason_for_call", "Reason for call"),
        ("known_info", "Known info"),
        ("unknown_info", "Unknown info"),
        ("task_instructions", "Task instructions"),
    ):
        value = str(ins.get(key) or "").strip()
        if value and value != ".":
            parts.append(f"{label}: {value}")
    persona = str(scenario.get("persona") or "").strip()
    if persona:
        parts.insert(0, f"Persona: {persona}")
    return "\n".join(parts)


def _actions(
    raw: list[dict[str, Any]], args_key: str, where: Path, field: str
) -> tuple[Action, ...]:
    try:
        return tuple(Action(tool=a["name"], args=a.get(args_key) or {}) for a in raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed gold action: {exc}", file=where, field=field) from None


def _gold_user(actions: tuple[Action, ...], db: dict[str, dict[str, Any]]) -> str | None:
    """The customer a task is about: the first user id or order owner its gold actions name."""
    for a in actions:
        if "user_id" in a.args and a.args["user_id"] in db["users"]:
            return str(a.args["user_id"])
        order = db["orders"].get(str(a.args.get("order_id", "")))
        if order is not None:
            return str(order["user_id"])
        if a.tool == "find_user_id_by_email":
            for uid, user in db["users"].items():
                if user["email"].lower() == str(a.args.get("email", "")).lower():
                    return uid
        if a.tool == "find_user_id_by_name_zip":
            for uid, user in db["users"].items():
                if (
                    user["name"]["first_name"].lower() == str(a.args.get("first_name", "")).lower()
                    and user["name"]["last_name"].lower()
                    == str(a.args.get("last_name", "")).lower()
                    and user["address"]["zip"] == a.args.get("zip")
                ):
                    return uid
    return None


def _tau2_tasks(
    root: Path, split: str, db: dict[str, dict[str, Any]]
) -> tuple[list[TauTask], bytes]:
    path = root / "tasks.json"
    raw = path.read_bytes()
    rows = _read_json(path)
    if not isinstance(rows, list):
        raise InputError("tasks.json must be a list of tasks", file=path)
    wanted: list[str] | None = None
    split_bytes = b""
    if split != "all":
        split_path = root / "split_tasks.json"
        if not split_path.is_file():
            raise InputError(
                f"split {split!r} asked for but split_tasks.json is missing", file=split_path
            )
        split_bytes = split_path.read_bytes()
        splits = _read_json(split_path)
        if split not in splits:
            raise InputError(
                f"no split {split!r} (has {', '.join(sorted(splits))})", file=split_path
            )
        wanted = [str(i) for i in splits[split]]
    by_id: dict[str, TauTask] = {}
    for i, row in enumerate(rows):
        try:
            tid = str(row["id"])
            criteria = row.get("evaluation_criteria") or {}
            actions = _actions(
                criteria.get("actions") or [],
                "arguments",
                path,
                f"[{i}].evaluation_criteria.actions",
            )
            by_id[tid] = TauTask(
                id=tid,
                instruction=_tau2_instruction(row["user_scenario"]),
                actions=actions,
                outputs=tuple(str(o) for o in criteria.get("communicate_info") or []),
                user_id=_gold_user(actions, db),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"malformed task: {exc}", file=path, field=f"[{i}]") from None
    if wanted is None:
        return list(by_id.values()), raw
    missing = [t for t in wanted if t not in by_id]
    if missing:
        raise InputError(
            f"split {split!r} names unknown task ids {missing[:5]}", file=root / "split_tasks.json"
        )
    return [by_id[t] for t in wanted], raw + split_bytes


def _tau_tasks(
    root: Path, split: str, db: dict[str, dict[str, Any]]
) -> tuple[list[TauTask], bytes]:
    name = f"tasks_{split}.json"
    path = next((p for p in (root / name, root / "derived" / name) if p.is_file()), None)
    if path is None:
        raise InputError(f"τ-bench layout: no {name} here or in derived/", file=root)
    raw = path.read_bytes()
    rows = _read_json(path)
    if not isinstance(rows, list):
        raise InputError("tasks file must be a list of tasks", file=path)
    tasks = []
    for i, row in enumerate(rows):
        try:
            actions = _actions(row["actions"], "kwargs", path, f"[{i}].actions")
            tasks.append(
                TauTask(
                    id=str(row.get("task_index", i)),
                    instruction=str(row["instruction"]).strip(),
                    actions=actions,
                    outputs=tuple(str(o) for o in row.get("outputs") or []),
                    # the gold actions name the customer; τ-bench's user_id field is wrong
                    # for at least one test task (64)
                    user_id=_gold_user(actions, db) or row.get("user_id"),
                )
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"malformed task: {exc}", file=path, field=f"[{i}]") from None
    return tasks, raw


def load_tau_dir(root: Path, split: str = "test") -> TauData:
    """Load a τ²-bench or τ-bench retail directory and the tasks of `split`.

    τ²-bench splits come from split_tasks.json (`train`, `test`, `base`) or `all` for every
    task in tasks.json; τ-bench splits name the tasks file (`test`, `dev`, `train`).
    """
    root = root.expanduser().resolve()
    layout = detect_layout(root)
    db, db_sha = _load_db(root, layout)
    if layout == "tau2":
        tasks, task_bytes = _tau2_tasks(root, split, db)
        policy_path = root / "policy.md"
    else:
        tasks, task_bytes = _tau_tasks(root, split, db)
        policy_path = root / "wiki.md"
    if not tasks:
        raise InputError(f"split {split!r} has no tasks", file=root)
    seen: set[str] = set()
    for t in tasks:
        if t.id in seen:
            raise InputError(f"duplicate task id {t.id!r}", file=root)
        seen.add(t.id)
    policy = policy_path.read_text(encoding="utf-8")
    digest = hashlib.sha256(db_sha.encode() + task_bytes + policy.encode()).hexdigest()
    return TauData(
        root=root, layout=layout, db=db, policy=policy, tasks=tuple(tasks), sha256=digest
    )
