"""Tasks with known correct outcomes, and loading them from JSONL with precise errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roibench.core.errors import InputError

Tier = Literal["easy", "medium", "hard", "adversarial"]


class Action(BaseModel):
    """One tool call: the tool's name and its arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(description="Tool name.")
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments by name.")


class Task(BaseModel):
    """One unit of business work with its expected end state.

    The agent sees `prompt` (and whatever its tools reveal of `initial_state`); the grader
    compares the end state with `expected`. `reference_actions` and `reference_reply` are a
    known-good solution: tests replay them, and the simulator plays them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, description="Unique within the dataset.")
    tier: Tier = Field(description="Difficulty tier; 'adversarial' tries to break the policy.")
    prompt: str = Field(min_length=1, description="The opening message from the requester.")
    initial_state: dict[str, Any] = Field(description="The world the tools operate on.")
    expected: dict[str, Any] = Field(description="Expected end state (workflow-defined).")
    reference_actions: list[Action] = Field(description="Tool calls that reach `expected`.")
    reference_reply: str = Field(description="A final reply that states the required facts.")
    required_facts: list[str] = Field(
        default_factory=list, description="Strings the final reply must contain."
    )
    tempting_actions: list[Action] | None = Field(
        default=None, description="What an agent that breaks the policy would do (graded harmful)."
    )
    notes: str = Field(default="", description="Why the expected outcome is right, for reviewers.")


class Dataset(BaseModel):
    """Tasks read from one file, with the file's content hash."""

    model_config = ConfigDict(frozen=True)

    path: Path
    sha256: str
    tasks: tuple[Task, ...]

    @property
    def short_hash(self) -> str:
        """First 12 hex digits of the file hash."""
        return self.sha256[:12]


def stratified_sample(tasks: Sequence[Task], n: int) -> tuple[Task, ...]:
    """n of the tasks with every tier in proportion to its share of the dataset (largest
    remainders; ties to the tier that comes first), each tier's first tasks, in dataset order.

    Datasets list their easy tasks first, so the first n tasks would measure only the easy
    ones: a quick `--limit` run must see the same mix of difficulty as the full dataset."""
    if n >= len(tasks):
        return tuple(tasks)
    by_tier: dict[str, list[int]] = {}
    for i, task in enumerate(tasks):
        by_tier.setdefault(task.tier, []).append(i)
    total = len(tasks)
    exact = {tier: n * len(ids) / total for tier, ids in by_tier.items()}
    quota = {tier: int(share) for tier, share in exact.items()}
    order = list(by_tier)
    by_remainder = sorted(order, key=lambda t: (-(exact[t] - quota[t]), order.index(t)))
    for tier in by_remainder[: n - sum(quota.values())]:
        quota[tier] += 1
    chosen = sorted(i for tier, ids in by_tier.items() for i in ids[: quota[tier]])
    return tuple(tasks[i] for i in chosen)


def _loc(error_loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in error_loc) or "(row)"


def load_dataset(
    path: Path,
    validate: Callable[[Task], None] | None = None,
) -> Dataset:
    """Read a JSONL task file. Any bad row raises InputError naming file, line and field.

    `validate` is the workflow's own check of a task's state; a ValueError from it becomes an
    InputError for that line.
    """
    if not path.is_file():
        raise InputError("dataset file not found", file=path)
    raw = path.read_bytes()
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"not UTF-8 text (byte {raw[exc.start]:#04x})", file=path, line=line_no
        ) from None
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=path, line=line_no) from None
        try:
            task = Task.model_validate(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InputError(
                first["msg"], file=path, line=line_no, field=_loc(first["loc"])
            ) from None
        if task.id in seen:
            raise InputError(
                f"duplicate task id {task.id!r} (first on line {seen[task.id]})",
                file=path,
                line=line_no,
                field="id",
            )
        seen[task.id] = line_no
        if validate is not None:
            try:
                validate(task)
            except ValueError as exc:
                raise InputError(str(exc), file=path, line=line_no, field="initial_state") from None
        tasks.append(task)
    if not tasks:
        raise InputError("dataset has no tasks", file=path)
    return Dataset(path=path, sha256=hashlib.sha256(raw).hexdigest(), tasks=tuple(tasks))
