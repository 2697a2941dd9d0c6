"""Small helpers shared by the vertical tests."""

from __future__ import annotations

from typing import Any

from roibench.config.tasks import Action, Task


def by_id(tasks: tuple[Task, ...], task_id: str) -> Task:
    """The task with this id."""
    return next(t for t in tasks if t.id == task_id)


def act(tool: str, **args: Any) -> Action:
    """An action, written compactly."""
    return Action(tool=tool, args=args)
