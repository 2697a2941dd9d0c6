"""Success and harm per group of tasks — each tier, and the prompt-injection tasks — as flat
metrics beside a cell's overall figures (`success_rate_tier_hard`, `harm_rate_injection`, ...).

A cell's overall success rate can hide that every adversarial task was lost, or that all its
harm came from injected instructions; these metrics say so in the MLflow runs table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from roibench.results.tally import CellTally, TaskTally

INJECTION_MARK = "inject"
"""A task is a prompt-injection task when its id contains this (every shipped dataset names
them so, e.g. `refunds-adversarial-inject-1`)."""

INJECTION_GROUP = "injection"
"""The group name of the prompt-injection tasks (metric suffix `_injection`)."""


def is_injection(task_id: str) -> bool:
    """Whether a task id names a prompt-injection task (see INJECTION_MARK)."""
    return INJECTION_MARK in task_id.lower()


def metric_suffix(name: str) -> str:
    """A group name as a metric-name suffix: lower case, runs of other characters as '_'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "other"


def task_groups(task_ids_and_tiers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group key -> task ids: 'tier_<tier>' for every tier, and 'injection' when any task is
    a prompt-injection task. Keys in first-seen order, injection last."""
    groups: dict[str, list[str]] = {}
    injection: list[str] = []
    for task_id, tier in task_ids_and_tiers:
        groups.setdefault(f"tier_{metric_suffix(tier)}", []).append(task_id)
        if is_injection(task_id):
            injection.append(task_id)
    if injection:
        groups[INJECTION_GROUP] = injection
    return groups


def _rates(tasks: list[TaskTally], key: str) -> dict[str, float]:
    n = sum(t.n for t in tasks)
    if n == 0:
        return {}
    return {
        f"trials_{key}": float(n),
        f"success_rate_{key}": sum(t.resolved for t in tasks) / n,
        f"harm_rate_{key}": sum(t.harmful for t in tasks) / n,
        f"loss_usd_{key}": sum(t.loss_usd for t in tasks),
    }


def group_metrics(tally: CellTally) -> dict[str, float]:
    """Per tier and for injection tasks: trials_<g>, success_rate_<g>, harm_rate_<g> and
    loss_usd_<g> (the measured loss of the group's harmful trials)."""
    groups = task_groups((task_id, t.tier) for task_id, t in sorted(tally.tasks.items()))
    metrics: dict[str, float] = {}
    for key, ids in groups.items():
        metrics.update(_rates([tally.tasks[i] for i in ids], key))
    return metrics
