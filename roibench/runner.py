"""The runner: expand a suite into cells x tasks x trials and run them on asyncio with bounded
concurrency, journaling each graded trial as soon as it finishes."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from roibench.agent import AgentRun
from roibench.errors import InputError
from roibench.journal import Journal
from roibench.llm import ChatModel, Endpoint, LLMError
from roibench.outcomes import Outcome
from roibench.plugins import resolve_agent, resolve_workflow
from roibench.pricing import DEFAULT_FX, Pricer, model_pricer, suite_catalog
from roibench.records import ToolCallRecord, TrialRecord
from roibench.suite import AgentRef, LoadedSuite, ModelSpec, WorkflowRef
from roibench.tasks import Dataset, Task, load_dataset
from roibench.workflow import Transcript, Workflow


@dataclass
class Cell:
    """One workflow x agent x model combination and its tasks."""

    workflow: Workflow
    workflow_ref: WorkflowRef
    agent: Any
    agent_ref: AgentRef
    model: ModelSpec
    dataset: Dataset
    price: Pricer | None

    @property
    def label(self) -> str:
        """'workflow/agent/model', the child run's name."""
        return f"{self.workflow.name}/{self.agent.name}/{self.model.name}"

    @property
    def tasks(self) -> tuple[Task, ...]:
        """The tasks this cell runs."""
        limit = self.workflow_ref.limit
        return self.dataset.tasks[:limit] if limit else self.dataset.tasks


@dataclass
class RunPlan:
    """A validated suite, expanded: everything needed to run, nothing started yet."""

    suite: LoadedSuite
    cells: list[Cell]
    trials: int
    seed: int
    concurrency: int

    @property
    def total_trials(self) -> int:
        """Trials the plan runs."""
        return sum(len(c.tasks) for c in self.cells) * self.trials

    @property
    def simulated(self) -> bool:
        """True if any model is the built-in simulator."""
        return any(c.model.resolved_provider().simulated for c in self.cells)


def plan_suite(
    suite: LoadedSuite,
    *,
    trials: int | None = None,
    limit: int | None = None,
    concurrency: int | None = None,
    seed: int | None = None,
) -> RunPlan:
    """Resolve plug-ins and load datasets; every problem is an InputError naming the place."""
    cfg = suite.config
    base_dirs = [suite.path.parent.resolve(), Path.cwd()]
    if suite.path.parent.name == "evals":
        base_dirs.insert(1, suite.path.parent.parent.resolve())
    workflows: list[tuple[WorkflowRef, Workflow, Dataset]] = []
    for i, ref in enumerate(cfg.workflows):
        try:
            wf = resolve_workflow(ref.name, base_dirs)
        except InputError as exc:
            raise InputError(exc.detail, file=suite.path, field=f"workflows[{i}].name") from None
        if ref.dataset:
            path = suite.resolve(ref.dataset)
        elif wf.dataset is not None:
            path = Path(wf.dataset)
        else:
            raise InputError(f"workflow {wf.name!r} has no default dataset; set one", file=suite.path,
                             field=f"workflows[{i}].dataset")
        dataset = load_dataset(path, wf.validate_task)
        if limit is not None:
            ref = ref.model_copy(update={"limit": min(limit, ref.limit or limit)})
        if ref.value_model is not None:
            wf.value_model = ref.value_model  # type: ignore[misc]
        workflows.append((ref, wf, dataset))
    agents = []
    for i, aref in enumerate(cfg.agents):
        try:
            agents.append((aref, resolve_agent(aref.name, base_dirs)))
        except InputError as exc:
            raise InputError(exc.detail, file=suite.path, field=f"agents[{i}].name") from None
    catalog = suite_catalog(suite)
    pricers = [model_pricer(catalog, suite, i) for i in range(len(cfg.models))]
    cells = [
        Cell(workflow=wf, workflow_ref=wref, agent=agent, agent_ref=aref, model=model,
             dataset=dataset, price=pricer)
        for wref, wf, dataset in workflows
        for aref, agent in agents
        for model, pricer in zip(cfg.models, pricers, strict=True)
    ]
    return RunPlan(
        suite=suite,
        cells=cells,
        trials=trials or cfg.trials,
        seed=cfg.seed if seed is None else seed,
        concurrency=concurrency or cfg.concurrency,
    )


def trial_seed(seed: int, task_id: str, k: int) -> int:
    """Seed of trial k of a task: the same for every model, so cells are comparable."""
    digest = hashlib.blake2b(f"{seed}:{task_id}:{k}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


ProgressFn = Callable[[TrialRecord], None]


@dataclass
class RunResult:
    """What a run produced, by cell label."""

    trials: dict[str, list[TrialRecord]] = field(default_factory=dict)
    sim_requests: int = 0


class Runner:
    """Runs a plan. Owns the simulator (when used) and one client per endpoint."""

    def __init__(self, plan: RunPlan, journal: Journal | None = None, progress: ProgressFn | None = None):
        self.plan = plan
        self.journal = journal
        self.progress = progress
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self._graphs: dict[int, Any] = {}
        self._sim: Any = None

    async def _endpoint(self, model: ModelSpec) -> Endpoint:
        provider = model.resolved_provider()
        base_url = provider.base_url
        if provider.simulated and base_url is None:
            if self._sim is None:
                from roibench.sim.server import SimServer

                tasks = [t for c in self.plan.cells for t in c.tasks]
                self._sim = SimServer(tasks)
                await self._sim.start()
            base_url = self._sim.base_url
        if base_url is None:
            raise InputError(f"model {model.name!r}: provider {provider.name!r} needs base_url")
        key = (provider.name, base_url)
        if key not in self._endpoints:
            concurrency = model.concurrency or self.plan.concurrency
            self._endpoints[key] = Endpoint.open(provider, base_url, concurrency, model.timeout_s)
        return self._endpoints[key]

    def _graph(self, cell: Cell) -> Any:
        key = id(cell.agent)
        if key not in self._graphs:
            self._graphs[key] = cell.agent.build()
        return self._graphs[key]

    def _work(self) -> Iterator[tuple[Cell, Task, int]]:
        # trial-major order: every task gets trial 0 before any gets trial 1, so a cut-short
        # run still covers the dataset evenly
        for k in range(self.plan.trials):
            for cell in self.plan.cells:
                for task in cell.tasks:
                    yield cell, task, k

    async def run(self) -> RunResult:
        """Run every trial; return records grouped by cell."""
        result = RunResult(trials={c.label: [] for c in self.plan.cells})
        work = self._work()
        try:
            for cell in self.plan.cells:
                await self._endpoint(cell.model)

            async def worker() -> None:
                for cell, task, k in work:
                    record = await self.run_trial(cell, task, k)
                    result.trials[cell.label].append(record)
                    if self.journal is not None:
                        self.journal.append(record)
                    if self.progress is not None:
                        self.progress(record)

            await asyncio.gather(*(worker() for _ in range(self.plan.concurrency)))
        finally:
            for endpoint in self._endpoints.values():
                await endpoint.aclose()
            if self._sim is not None:
                result.sim_requests = self._sim.requests
                await self._sim.stop()
        return result

    async def run_trial(self, cell: Cell, task: Task, k: int) -> TrialRecord:
        """Run and grade one trial. Never raises for model or agent failures."""
        seed = trial_seed(self.plan.seed, task.id, k)
        endpoint = await self._endpoint(cell.model)
        params: dict[str, Any] = {}
        m = cell.model
        if m.temperature is not None:
            params["temperature"] = m.temperature
        if m.max_tokens is not None:
            params["max_tokens"] = m.max_tokens
        if m.reasoning_effort is not None:
            params["reasoning_effort"] = m.reasoning_effort
        if m.extra_body:
            params["extra_body"] = dict(m.extra_body)
        llm = ChatModel(
            endpoint=endpoint,
            model_id=m.model_id,
            price=cell.price,
            params=params,
            seed=seed,
            max_retries=m.max_retries,
            fx=self.plan.suite.config.fx or DEFAULT_FX,
        )
        env = cell.workflow.new_env(task)
        run = AgentRun(
            llm=llm,
            env=env,
            tools=env.tool_schemas(),
            max_steps=cell.agent_ref.max_steps,
            max_tokens=cell.agent_ref.max_tokens_per_trial,
        )
        messages = [
            {"role": "system", "content": cell.workflow.system_prompt(task)},
            {"role": "user", "content": task.prompt},
        ]
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        error_class: str | None = None
        final_messages: list[dict[str, Any]] = messages
        try:
            state = await self._graph(cell).ainvoke(
                {"messages": messages, "done": False},
                config={"configurable": {"run": run}, "recursion_limit": 4 * run.max_steps + 10},
            )
            final_messages = state.get("messages", messages)
            error_class = run.stop_reason
            outcome = cell.workflow.grade(task, env, Transcript(messages=final_messages, reply=run.reply))
        except LLMError as exc:
            error_class = exc.error_class
            outcome = Outcome.error(str(exc))
        except Exception as exc:  # an agent or grader bug must not kill the suite
            error_class = "agent_error"
            outcome = Outcome.error(f"{type(exc).__name__}: {exc}")
        cost = llm.cost_usd
        return TrialRecord(
            cell=cell.label,
            workflow=cell.workflow.name,
            agent=cell.agent.name,
            model=m.name,
            task_id=task.id,
            tier=task.tier,
            trial=k,
            seed=seed,
            outcome=outcome,
            error_class=error_class,
            calls=tuple(llm.calls),
            usage=llm.usage,
            cost_usd=cost if cost is None else Decimal(cost),
            steps=run.steps,
            tool_log=tuple(
                ToolCallRecord(
                    name=c.name, args=c.args, result=c.result[:2000], ok=c.ok,
                    started_at=datetime.fromtimestamp(c.started_at, UTC) if c.started_at else None,
                    latency_s=c.latency_s,
                )
                for c in env.calls
            ),
            invalid_tool_calls=env.invalid_calls,
            started_at=started,
            duration_s=time.perf_counter() - t0,
            reply=run.reply,
        )
