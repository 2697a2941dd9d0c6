"""WorkBench (MindsDB, 2024; arXiv 2405.00823; MIT) as a roibench workflow.

690 workplace requests over five sandbox databases — email, calendar, web analytics, a CRM,
project management — and a company directory, each with the ground-truth list of
state-changing calls. The data is read from a folder the user names (a WorkBench checkout or
its data folder, see `data.py`), never bundled. The tools are our own implementation of
upstream's tool specification (`sandbox.py`, `env.py`); grading is upstream's state comparison
with roibench's outcomes on top (`grading.py`); the human baseline and the loss of an unwanted
change are in `value.py`.

Suite options (`[workflows.options]`):

- `domain`: `analytics`, `calendar`, `customer_relationship_manager`, `email`,
  `project_management`, `multi_domain` (a task file each), or `all` (default: all 690).
- `tools`: `all` (default; every toolkit, the paper's headline setting) or `domain` (only the
  toolkits of the task's domains, plus the company directory, as upstream gives them).

`ROIBENCH_WORKBENCH_DIR`, when set, replaces the suite's `dataset` folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from roibench.config.tasks import Action, Dataset, Task, Tier
from roibench.core.outcomes import Outcome, OutcomeStatus
from roibench.workflow import Env, Transcript, Workflow

from .calls import Call, Toolkit, openai_name, parse_call, upstream_call_string
from .data import KEYS, Domain, Query, WorkBenchData, load_workbench
from .env import WorkBenchEnv, env_class
from .grading import Verdict, verdict
from .sandbox import WRITE_TOOLS, replay
from .state import State, TableName
from .value import task_minutes
from .value import value_model as make_value_model

HERE = Path(__file__).parent
DATA_ENV = "ROIBENCH_WORKBENCH_DIR"
OPTIONS = ("domain", "tools")
ALL = "all"
ID_ARGS: dict[str, TableName] = {
    "email_id": TableName.EMAILS,
    "event_id": TableName.CALENDAR,
    "customer_id": TableName.CRM,
    "task_id": TableName.PROJECT_TASKS,
}
ADDRESS_ARGS = ("recipient", "participant_email", "assigned_to_email")


class ToolSetting(StrEnum):
    """The paper's two tool settings."""

    ALL = "all"
    """Every toolkit's tools in every task."""
    DOMAIN = "domain"
    """Only the toolkits of the task's domains, and the company directory."""


def reference_actions(query: Query) -> list[Action]:
    """The ground-truth calls as roibench actions (tool names with '__')."""
    return [Action(tool=openai_name(c.tool), args=c.args) for c in query.calls]


def _tier(query: Query) -> Tier:
    """hard: several applications; easy: one application, one change; medium: one application,
    none (a condition to check) or several changes."""
    if query.domain is Domain.MULTI_DOMAIN:
        return "hard"
    return "easy" if len(query.calls) == 1 else "medium"


def _pick(options: Sequence[str], *parts: object) -> str:
    """A deterministic choice among `options` (seeded by `parts`)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=4).digest()
    return options[int.from_bytes(digest, "big") % len(options)]


def tempting_candidates(query: Query, data: WorkBenchData) -> list[list[Action]]:
    """Plausible mistakes on the ground truth, most telling first: the first id argument
    swapped for another record's id; the first company address written @example.com (the
    paper's "wrong email address"); an extra email deleted (always a harmful change). The
    task's tempting actions are the first of these that grades harmful with a loss."""
    referenced = {v for c in query.calls for _, v in c.kwargs}
    found: list[list[Action]] = []
    for i, call in enumerate(query.calls):
        hit = next(((arg, v) for arg, v in call.kwargs if arg in ID_ARGS), None)
        if hit is not None:
            table = data.base[ID_ARGS[hit[0]]]
            others = [v for v in table.column(KEYS[ID_ARGS[hit[0]]]) if v and v not in referenced]
            calls = list(query.calls)
            calls[i] = _with(call, hit[0], _pick(others, query.id, hit[0]))
            found.append([Action(tool=openai_name(c.tool), args=c.args) for c in calls])
            break
    for i, call in enumerate(query.calls):
        hit = next(
            ((a, v) for a, v in call.kwargs if a in ADDRESS_ARGS and v.endswith("@atlas.com")),
            None,
        )
        if hit is not None:
            calls = list(query.calls)
            calls[i] = _with(call, hit[0], hit[1].replace("@atlas.com", "@example.com"))
            found.append([Action(tool=openai_name(c.tool), args=c.args) for c in calls])
            break
    emails = [
        v for v in data.base[TableName.EMAILS].column("email_id") if v and v not in referenced
    ]
    extra = Action(tool="email__delete_email", args={"email_id": _pick(emails, query.id)})
    found.append([*reference_actions(query), extra])
    return found


def _interleaved(queries: list[Query]) -> list[Query]:
    """The domains' tasks taken in turn (each domain's in file order), so that the first n
    tasks — what `--limit n` keeps within each tier — span every domain."""
    by_domain: dict[Domain, list[Query]] = {}
    for q in queries:
        by_domain.setdefault(q.domain, []).append(q)
    longest = max((len(qs) for qs in by_domain.values()), default=0)
    return [qs[i] for i in range(longest) for qs in by_domain.values() if i < len(qs)]


def _with(call: Call, arg: str, value: str) -> Call:
    return Call(call.tool, tuple((k, value if k == arg else v) for k, v in call.kwargs))


class WorkBenchWorkflow(Workflow):
    """WorkBench: workplace requests over five business databases, graded on the end state."""

    name = "workbench"
    description = "WorkBench: 690 workplace tasks over email, calendar, analytics, CRM, projects"
    policy: ClassVar[str] = (HERE / "policy.md").read_text(encoding="utf-8")
    env = WorkBenchEnv
    dataset = None
    value_model = make_value_model(
        (Decimal(480) * task_minutes(False) + Decimal(210) * task_minutes(True)) / 690
    )

    def __init__(self) -> None:
        self.domain = ALL
        self.tools = ToolSetting.ALL
        self._data: WorkBenchData | None = None
        self._queries: dict[str, Query] = {}
        self._gold: dict[str, State] = {}

    # -- setup ------------------------------------------------------------------------------

    def configure(self, options: dict[str, Any], *, user_simulator: bool = False) -> None:
        """Read `domain` and `tools` (see the module docstring)."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
        if user_simulator:
            raise ValueError("workflow 'workbench' does not converse with a user simulator")
        domain = str(options.get("domain", ALL))
        choices = [d.value for d in Domain] + [ALL]
        if domain not in choices:
            raise ValueError(f"domain must be one of {', '.join(choices)}, not {domain!r}")
        tools = str(options.get("tools", ToolSetting.ALL))
        if tools not in set(ToolSetting):
            raise ValueError(f"tools must be 'all' or 'domain', not {tools!r}")
        self.domain = domain
        self.tools = ToolSetting(tools)

    def load_tasks(self, path: Path) -> Dataset:
        """The tasks of the WorkBench folder at `path` (or $ROIBENCH_WORKBENCH_DIR)."""
        override = os.environ.get(DATA_ENV)
        root = (Path(override) if override else path).resolve()
        data = load_workbench(root)
        queries = _interleaved([q for q in data.queries if self.domain in (ALL, q.domain)])
        self._data = data
        self._queries = {q.id: q for q in queries}
        self._gold = {}
        minutes = sum(
            (task_minutes(q.domain is Domain.MULTI_DOMAIN) for q in queries), Decimal(0)
        ) / len(queries)
        # the subset's own baseline (instance attribute; a suite's value_model still overrides)
        self.value_model = make_value_model(minutes)  # type: ignore[misc]
        tasks = tuple(self._tempted(self._task(q, data), q, data) for q in queries)
        return Dataset(path=data.root, sha256=data.sha256, tasks=tasks)

    def _tempted(self, task: Task, q: Query, data: WorkBenchData) -> Task:
        """The task with the first tempting candidate that grades harmful with a loss (a
        swapped id can land on a record the call leaves unchanged: that is a failure, not a
        harm, and would not test what tempting actions are for)."""
        candidates = tempting_candidates(q, data)
        for actions in candidates:
            _env, outcome = self.replay(task, actions, task.reference_reply)
            if outcome.status is OutcomeStatus.HARMFUL and outcome.loss_usd > 0:
                return task.model_copy(update={"tempting_actions": actions})
        return task.model_copy(update={"tempting_actions": candidates[-1]})

    def _task(self, q: Query, data: WorkBenchData) -> Task:
        return Task(
            id=q.id,
            tier=_tier(q),
            prompt=q.query,
            initial_state={
                "workbench_task": {
                    "domain": q.domain.value,
                    "toolkits": sorted(t.value for t in q.toolkits),
                    "answer": list(q.answer),
                }
            },
            expected={
                "state": "the databases after executing the ground-truth calls (answer)",
                "answer": list(q.answer),
            },
            reference_actions=reference_actions(q),
            reference_reply=(
                "Done: I made the requested changes."
                if q.calls
                else "Nothing needed to change, so I left everything as it was."
            ),
            notes=f"WorkBench {q.domain} task {q.id}; template: {q.base_template}",
        )

    def validate_task(self, task: Task) -> None:
        """A WorkBench task carries its metadata under initial_state['workbench_task']."""
        if "workbench_task" not in task.initial_state:
            raise ValueError(
                "initial_state lacks 'workbench_task' (load WorkBench tasks from its data folder)"
            )

    @property
    def data(self) -> WorkBenchData:
        """The loaded data (after load_tasks)."""
        if self._data is None:
            raise RuntimeError("workbench: load_tasks() has not run")
        return self._data

    def query(self, task: Task) -> Query:
        """The published task behind a roibench task."""
        return self._queries[task.id]

    def toolkits(self, task: Task) -> frozenset[Toolkit]:
        """The toolkits an agent gets for the task under the suite's tool setting."""
        if self.tools is ToolSetting.ALL:
            return frozenset(Toolkit)
        return self.query(task).toolkits | {Toolkit.COMPANY_DIRECTORY}

    def new_env(self, task: Task) -> WorkBenchEnv:
        """A fresh sandbox with the task's tools."""
        return env_class(self.toolkits(task))(task, self.data)

    # -- grading ----------------------------------------------------------------------------

    def gold(self, task: Task) -> State:
        """The databases after the ground-truth calls (computed once per task)."""
        cached = self._gold.get(task.id)
        if cached is None:
            cached = replay(self.data, list(self.query(task).calls)).state
            self._gold[task.id] = cached
        return cached

    def end_state(self, calls: Sequence[tuple[str, dict[str, Any]]]) -> State:
        """The databases after an agent's calls, executed as upstream's grader executes them
        (each call written as upstream records it, then parsed; see `calls.py`)."""
        return replay(self.data, [parse_call(upstream_call_string(n, a)) for n, a in calls]).state

    def verdict(self, task: Task, calls: Sequence[tuple[str, dict[str, Any]]]) -> Verdict:
        """Everything the grader checks for an agent's calls, before it becomes an outcome."""
        prediction = [upstream_call_string(n, a) for n, a in calls]
        return verdict(
            self.data.base,
            self.end_state(calls),
            self.gold(task),
            list(self.query(task).answer),
            prediction,
        )

    def grade(self, task: Task, env: Env, transcript: Transcript) -> Outcome:
        """WorkBench's correctness and unwanted side effects, as roibench outcomes."""
        del transcript  # WorkBench grades the databases only
        return self.verdict(task, [(c.name, c.args) for c in env.calls]).outcome()


WORKFLOW = WorkBenchWorkflow
__all__ = ["WORKFLOW", "WRITE_TOOLS", "ToolSetting", "WorkBenchWorkflow"]
