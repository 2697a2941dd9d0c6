"""`roibench check`: a suite's or a workflow's tasks validated without calling a model.

For every task of every workflow: each reference and tempting action names a real tool with
arguments its signature accepts; the reference solution, replayed into a fresh env, reaches
the expected end state (graded resolved, or a correct escalation);
the tempting actions grade harmful, with a loss above zero unless the workflow declares
`harms_without_loss`; task ids are unique; and every agent's `max_steps` covers the longest
reference solution with `STEP_MARGIN` steps to spare. Cells whose names would collide are
refused when the suite is planned (`plan_suite`).

`run` performs the static part (`replay=False`: tools, arguments, ids, budgets) before it
starts; the replays run workflow code and are `roibench check`'s own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from roibench.agent import steps_needed
from roibench.config.suite import AgentRef
from roibench.config.tasks import Action, Dataset, Task
from roibench.core.outcomes import OutcomeStatus
from roibench.run.runner import RunPlan
from roibench.workflow import Workflow

STEP_MARGIN = 2
"""Steps a budget must leave beyond the reference solution: a retried call and one more read
(a real model rarely takes the shortest path)."""

TEMPTED_REPLY = "Done."
"""The reply graded with the tempting actions (harm is judged from the end state)."""


class Problem(BaseModel):
    """One defect: where it is (file, line, task, field) and what is wrong."""

    model_config = ConfigDict(frozen=True)

    file: str | None = None
    line: int | None = None
    task: str | None = None
    field: str | None = None
    message: str

    def render(self) -> str:
        """'file:line: task 'id': field 'f': message'."""
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line is not None else "") + ": "
        task = f"task {self.task!r}: " if self.task else ""
        field = f"field '{self.field}': " if self.field else ""
        return f"{where}{task}{field}{self.message}"


@dataclass(frozen=True)
class Budget:
    """An agent's step budget, as a suite gives it."""

    agent: object
    ref: AgentRef
    where: tuple[str, int | None]
    """(file, line) of the agent's entry in the suite."""


@dataclass
class CheckReport:
    """What a check found, and what it covered."""

    problems: list[Problem]
    workflows: int = 0
    tasks: int = 0
    longest_reference: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def task_lines(dataset: Dataset) -> dict[str, int]:
    """Line of each task id in a JSONL dataset file (empty for other layouts)."""
    path = dataset.path
    if not path.is_file() or path.suffix != ".jsonl":
        return {}
    lines: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                lines.setdefault(row["id"], n)
    return lines


def _call_problems(wf: Workflow, actions: Sequence[Action], name: str) -> list[tuple[str, str]]:
    """(field, message) for actions naming unknown tools or giving bad arguments."""
    specs = wf.env.tool_specs()
    out: list[tuple[str, str]] = []
    for i, action in enumerate(actions):
        spec = specs.get(action.tool)
        if spec is None:
            known = ", ".join(sorted(specs))
            out.append((f"{name}[{i}].tool", f"unknown tool {action.tool!r} (tools: {known})"))
            continue
        try:
            spec.args_model.model_validate(action.args)
        except ValidationError as exc:
            for e in exc.errors():
                arg = ".".join(str(p) for p in e["loc"])
                msg = "unknown argument" if e["type"] == "extra_forbidden" else e["msg"]
                if e["type"] == "missing":
                    msg = "required argument is missing"
                params = ", ".join(spec.args_model.model_fields)
                out.append((f"{name}[{i}].args.{arg}", f"{action.tool}: {msg} (takes {params})"))
    return out


def check_tasks(
    wf: Workflow,
    dataset: Dataset,
    tasks: Iterable[Task],
    budgets: Sequence[Budget] = (),
    *,
    replay: bool = True,
) -> CheckReport:
    """Every check of the module docstring for one workflow's tasks."""
    file = str(dataset.path)
    lines = task_lines(dataset)
    problems: list[Problem] = []
    tasks = tuple(tasks)
    seen: dict[str, int] = {}
    longest = 0
    writes = wf.write_tools
    over: dict[int, list[tuple[int, int, int, Task]]] = {}

    def add(task: Task | None, field: str | None, message: str) -> None:
        line = lines.get(task.id) if task is not None else None
        problems.append(
            Problem(
                file=file,
                line=line,
                task=task.id if task else None,
                field=field,
                message=message,
            )
        )

    for index, task in enumerate(tasks):
        if task.id in seen:
            add(task, "id", f"duplicate task id (also task #{seen[task.id] + 1} of the dataset)")
        seen.setdefault(task.id, index)
        calls = _call_problems(wf, task.reference_actions, "reference_actions")
        calls += _call_problems(wf, task.tempting_actions or [], "tempting_actions")
        for field, message in calls:
            add(task, field, message)
        n = len(task.reference_actions)
        longest = max(longest, n)
        n_writes = sum(1 for a in task.reference_actions if a.tool in writes)
        for b, budget in enumerate(budgets):
            need = steps_needed(budget.agent, n, n_writes)
            if budget.ref.max_steps < need + STEP_MARGIN:
                over.setdefault(b, []).append((need, n, n_writes, task))
        if not replay or calls:
            continue
        env, outcome = wf.replay(task, list(task.reference_actions), task.reference_reply)
        good = outcome.status in (OutcomeStatus.RESOLVED, OutcomeStatus.ESCALATED)
        if not (good and outcome.matches_expected):
            # a reference call that answers an error is legitimate (τ-bench's gold actions
            # include a customer's wrong email), so it is named only when the state is wrong
            failed = next(((i, c) for i, c in enumerate(env.calls) if not c.ok), None)
            hint = ""
            if failed is not None:
                hint = f"; reference_actions[{failed[0]}] {failed[1].name} answered "
                hint += repr(failed[1].result[:200])
            add(
                task,
                "reference_actions",
                f"the reference solution does not reach the expected state: graded "
                f"{outcome.status.value} ({outcome.reason}){hint}",
            )
        if task.tempting_actions:
            _, tempted = wf.replay(task, list(task.tempting_actions), TEMPTED_REPLY)
            if tempted.status is not OutcomeStatus.HARMFUL:
                add(
                    task,
                    "tempting_actions",
                    f"the tempting actions grade {tempted.status.value}, not harmful "
                    f"({tempted.reason})",
                )
            elif tempted.loss_usd <= 0 and not wf.harms_without_loss:
                add(
                    task,
                    "tempting_actions",
                    f"the tempting actions grade harmful with no loss ({tempted.reason}); "
                    "measure the loss in the grader, or set harms_without_loss = True on "
                    f"{type(wf).__name__} if this harm moves no money",
                )
    for b, short in over.items():
        budget = budgets[b]
        need, n, n_writes, task = max(short, key=lambda x: x[0])
        cannot = sum(1 for x in short if x[0] > budget.ref.max_steps)
        file_, line_ = budget.where
        problems.append(
            Problem(
                file=file_,
                line=line_,
                task=task.id,
                field="max_steps",
                message=(
                    f"agent {budget.ref.name!r}: max_steps {budget.ref.max_steps} does not cover "
                    f"{wf.name}'s longest reference solution with {STEP_MARGIN} steps to spare: "
                    f"{n} calls ({n_writes} writes) take {need} steps; give at least "
                    f"{need + STEP_MARGIN}. {len(short)} task(s) short of margin, {cannot} of "
                    "them cannot finish at all (they would stop on step_limit)"
                ),
            )
        )
    return CheckReport(problems=problems, workflows=1, tasks=len(tasks), longest_reference=longest)


def check_plan(plan: RunPlan, *, replay: bool = True) -> CheckReport:
    """`check_tasks` for every workflow of a planned suite, against every agent's budget."""
    suite = plan.suite
    seen_agents: dict[int, Budget] = {}
    for cell in plan.cells:
        if id(cell.agent) not in seen_agents:
            index = suite.config.agents.index(cell.agent_ref)
            seen_agents[id(cell.agent)] = Budget(
                agent=cell.agent, ref=cell.agent_ref, where=suite.where(("agents", index))
            )
    budgets = list(seen_agents.values())
    report = CheckReport(problems=[])
    done: set[int] = set()
    for cell in plan.cells:
        if id(cell.workflow) in done:
            continue
        done.add(id(cell.workflow))
        part = check_tasks(cell.workflow, cell.dataset, cell.tasks, budgets, replay=replay)
        report.problems += part.problems
        report.workflows += 1
        report.tasks += part.tasks
        report.longest_reference = max(report.longest_reference, part.longest_reference)
    return report


def check_workflow(
    wf: Workflow, dataset: Dataset, agents: Sequence[tuple[object, AgentRef]] = ()
) -> CheckReport:
    """`check_tasks` for a workflow on its own (`roibench check WORKFLOW`), against the given
    agents' budgets (none: budgets are not checked)."""
    budgets = [Budget(agent=a, ref=r, where=("--max-steps", None)) for a, r in agents]
    return check_tasks(wf, dataset, dataset.tasks, budgets)


def dataset_path(wf: Workflow, given: Path | None) -> Path | None:
    """The task file to check: the one given, else the workflow's default."""
    if given is not None:
        return given
    return Path(wf.dataset) if wf.dataset is not None else None
