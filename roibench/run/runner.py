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
from roibench.config.suite import (
    AgentRef,
    LoadedSuite,
    ModelSpec,
    WorkflowRef,
    model_pricer,
    suite_catalog,
)
from roibench.config.tasks import Dataset, Task, stratified_sample
from roibench.core.errors import InputError
from roibench.core.faults import FaultSpec
from roibench.core.outcomes import Outcome
from roibench.core.records import (
    CallRecord,
    CallRole,
    ErrorClass,
    ToolCallRecord,
    TrialRecord,
)
from roibench.journal.store import Journal, TrialKey
from roibench.model.cache import ResponseCache
from roibench.model.client import ChatModel, Endpoint, LLMError
from roibench.model.errors import trial_behaviour
from roibench.model.local_server import LlamaServer, LocalModel
from roibench.pricing.cards import DEFAULT_FX, Pricer
from roibench.run.local_models import is_managed, prepare_local_models
from roibench.run.plugins import resolve_agent, resolve_workflow
from roibench.workflow import Transcript, UserTurnContext, Workflow


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
    user_model: ModelSpec | None = None
    """The workflow's user simulator, if the suite names one."""
    user_price: Pricer | None = None

    @property
    def label(self) -> str:
        """'workflow/agent/model', the child run's name."""
        return f"{self.workflow.name}/{self.agent.name}/{self.model.name}"

    @property
    def tasks(self) -> tuple[Task, ...]:
        """The tasks this cell runs: all, or `limit` of them drawn from every tier in
        proportion (see `tasks.stratified_sample`)."""
        limit = self.workflow_ref.limit
        return stratified_sample(self.dataset.tasks, limit) if limit else self.dataset.tasks


@dataclass
class RunPlan:
    """A validated suite, expanded: everything needed to run, nothing started yet."""

    suite: LoadedSuite
    cells: list[Cell]
    trials: int
    seed: int
    concurrency: int
    local_models: dict[str, LocalModel] = field(default_factory=dict)
    """Managed llamacpp models by suite name: the GGUF served and its sha256 (filled before
    the run by `local_server.prepare_local_models`, or from the journal header)."""

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
    user_sims: dict[int, tuple[ModelSpec | None, Pricer | None]] = {}
    for i, ref in enumerate(cfg.workflows):
        try:
            wf = resolve_workflow(ref.name, base_dirs)
        except InputError as exc:
            raise suite.error(exc.detail, ("workflows", i), f"workflows[{i}].name") from None
        if ref.dataset:
            path = suite.resolve(ref.dataset)
        elif wf.dataset is not None:
            path = Path(wf.dataset)
        else:
            raise suite.error(
                f"workflow {wf.name!r} has no default dataset; set one",
                ("workflows", i),
                f"workflows[{i}].dataset",
            )
        try:
            wf.configure(dict(ref.options), user_simulator=ref.user_model is not None)
        except ValueError as exc:
            raise suite.error(str(exc), ("workflows", i), f"workflows[{i}].options") from None
        dataset = wf.load_tasks(path)
        user_sims[id(wf)] = _user_model(suite, i)
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
            raise suite.error(exc.detail, ("agents", i), f"agents[{i}].name") from None
    _unique_names(suite, "workflows", [wf.name for _, wf, _ in workflows], "Workflow")
    _unique_names(suite, "agents", [agent.name for _, agent in agents], "agent")
    catalog = suite_catalog(suite)
    pricers = [model_pricer(catalog, suite, i) for i in range(len(cfg.models))]
    cells = [
        Cell(
            workflow=wf,
            workflow_ref=wref,
            agent=agent,
            agent_ref=aref,
            model=model,
            dataset=dataset,
            price=pricer,
        )
        for wref, wf, dataset in workflows
        for aref, agent in agents
        for model, pricer in zip(cfg.models, pricers, strict=True)
    ]
    for cell in cells:
        cell.user_model, cell.user_price = user_sims.get(id(cell.workflow), (None, None))
    return RunPlan(
        suite=suite,
        cells=cells,
        trials=trials or cfg.trials,
        seed=cfg.seed if seed is None else seed,
        concurrency=concurrency or cfg.concurrency,
    )


def _unique_names(suite: LoadedSuite, table: str, names: list[str], kind: str) -> None:
    """Cells are named workflow/agent/model: two entries whose objects share a `name` would
    merge their trials into one cell (e.g. two policies of one workflow in an A/B test)."""
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            entries = suite.config.workflows if table == "workflows" else suite.config.agents
            raise suite.error(
                f"{table}[{first[name]}] ({entries[first[name]].name!r}) and {table}[{i}] "
                f"({entries[i].name!r}) are both named {name!r}: their trials would merge into "
                f"one cell. Give each {kind} class its own `name`",
                (table, i),
                f"{table}[{i}].name",
            )
        first[name] = i


def _user_model(suite: LoadedSuite, index: int) -> tuple[ModelSpec | None, Pricer | None]:
    """The user simulator of the suite's `index`-th workflow and its price source: a model of
    the suite named by `user_model`, or the model table given there."""
    ref = suite.config.workflows[index]
    spec = ref.user_model
    if spec is None:
        return None, None
    field_name = f"workflows[{index}].user_model"
    catalog = suite_catalog(suite)
    if isinstance(spec, str):
        names = [m.name for m in suite.config.models]
        if spec not in names:
            raise InputError(
                f"user_model {spec!r} is not a model of the suite (models: {', '.join(names)})",
                file=suite.path,
                field=field_name,
            )
        j = names.index(spec)
        return suite.config.models[j], model_pricer(catalog, suite, j)
    try:
        pricer = catalog.resolve(
            provider=spec.provider,
            model_id=spec.model_id,
            genai_provider=spec.resolved_provider().genai_prices_id,
            inline=spec.price_card(),
            card_ref=spec.card_ref,
        )
    except KeyError as exc:
        raise InputError(str(exc.args[0]), file=suite.path, field=field_name) from None
    return spec, pricer


def _stop_detail(run: AgentRun) -> str:
    if run.stop_reason == "step_limit":
        return f"the agent used all {run.max_steps} steps (max_steps) before it finished"
    if run.stop_reason == "budget_exceeded":
        return f"the agent used its {run.max_tokens} tokens (max_tokens_per_trial)"
    return f"the agent stopped ({run.stop_reason})"


def trial_seed(seed: int, task_id: str, k: int) -> int:
    """Seed of trial k of a task: the same for every model, so cells are comparable."""
    digest = hashlib.blake2b(f"{seed}:{task_id}:{k}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


ProgressFn = Callable[[TrialRecord], None]


@dataclass
class RunOptions:
    """Reliability options of a run."""

    cache: ResponseCache | None = None
    """Serve repeated requests from disk (cost reported as the original)."""
    max_spend_usd: Decimal | None = None
    """Start no trial that could take the run's fresh spend over this."""
    faults: FaultSpec | None = None
    """Override every simulated model's fault spec."""
    done: set[TrialKey] = field(default_factory=set)
    """Trials already in the journal (resume): skipped, never re-billed."""
    lost_calls: dict[TrialKey, list[CallRecord]] = field(default_factory=dict)
    """Calls of attempts lost in a crash, attached to the trial that re-runs them."""
    limit_share: int = 1
    """This process is one of N that share each endpoint (a Ray worker): its concurrency, RPM
    and TPM limits are the suite's divided by N, so together they stay within them."""
    on_call: Callable[[TrialKey, CallRecord], None] | None = None
    """Also called with every call as it is made (a Ray worker streams them to the driver)."""
    keep_trials: bool = True
    """Return every record in `RunResult.trials`. `roibench run` turns this off: records go to
    the journal and the progress callback only, so a long run's memory stays flat."""


@dataclass
class RunResult:
    """What a run produced, by cell label."""

    trials: dict[str, list[TrialRecord]] = field(default_factory=dict)
    """This run's records by cell (empty when `RunOptions.keep_trials` is off)."""
    sim_requests: int = 0
    stopped_cells: dict[str, str] = field(default_factory=dict)
    """Cells stopped by a billing or authentication error, with the provider's message."""
    skipped: int = 0
    """Trials not started (spend cap or a stopped cell)."""
    budget_stopped: bool = False
    spent_usd: Decimal = Decimal(0)
    """Fresh spend of this invocation (cached calls excluded)."""


class _SpendBudget:
    """`--max-spend`: a trial starts only if the fresh spend so far, plus a running estimate of
    one trial for every trial in flight and this one, stays within the cap. The estimate is the
    cell's mean trial cost; a cell that has finished none runs one trial at a time (reserving
    the costliest known cell's mean) until it has, so a cheap cell finishing first cannot let
    a burst of expensive trials through."""

    def __init__(self, cap: Decimal | None) -> None:
        self.cap = cap
        self.spent = Decimal(0)
        self.stopped = False
        self._reserved = Decimal(0)
        self._in_flight: dict[str, list[Decimal]] = {}
        self._costs: dict[str, tuple[Decimal, int]] = {}
        self._cond = asyncio.Condition()

    def _estimate(self, cell: str) -> Decimal | None:
        total, n = self._costs.get(cell, (Decimal(0), 0))
        if n:
            return total / n
        means = [t / c for t, c in self._costs.values() if c]
        return max(means) if means else None

    async def reserve(self, cell: str) -> bool:
        """True if a trial of `cell` may start now (waits while in-flight trials settle)."""
        if self.cap is None:
            return True
        async with self._cond:
            while True:
                if self.stopped:
                    return False
                busy = sum(len(v) for v in self._in_flight.values())
                estimate = self._estimate(cell)
                probing = self._costs.get(cell, (Decimal(0), 0))[1] == 0
                if probing and self._in_flight.get(cell):
                    pass  # one unmeasured trial per cell at a time: wait for it
                elif estimate is None:
                    if busy == 0 and self.spent < self.cap:
                        break
                elif self.spent + self._reserved + estimate <= self.cap:
                    break
                if busy == 0:
                    self.stopped = True
                    return False
                await self._cond.wait()
            held = estimate or Decimal(0)
            self._reserved += held
            self._in_flight.setdefault(cell, []).append(held)
            return True

    async def release(self, cell: str, spent: Decimal) -> None:
        """A trial of `cell` finished having spent `spent`."""
        if self.cap is None:
            self.spent += spent
            return
        async with self._cond:
            held = self._in_flight[cell].pop()
            self._reserved -= held
            self.spent += spent
            total, n = self._costs.get(cell, (Decimal(0), 0))
            self._costs[cell] = (total + spent, n + 1)
            self._cond.notify_all()


class Runner:
    """Runs a plan. Owns the simulator (when used) and one client per endpoint."""

    def __init__(
        self,
        plan: RunPlan,
        journal: Journal | None = None,
        progress: ProgressFn | None = None,
        options: RunOptions | None = None,
    ):
        self.plan = plan
        self.journal = journal
        self.progress = progress
        self.options = options or RunOptions()
        self._endpoints: dict[tuple[str, str, bool], Endpoint] = {}
        self._graphs: dict[int, Any] = {}
        self._sim: Any = None
        self._local: dict[str, LlamaServer] = {}
        self._local_lock = asyncio.Lock()
        self._budget = _SpendBudget(self.options.max_spend_usd)

    async def _local_server(self, model: ModelSpec) -> str:
        """Base URL of the llama.cpp server roibench runs for `model` (started on first use,
        like the simulator; stopped when the run ends)."""
        async with self._local_lock:
            server = self._local.get(model.name)
            if server is None:
                if model.name not in self.plan.local_models:
                    await asyncio.to_thread(prepare_local_models, self.plan)
                server = LlamaServer(self.plan.local_models[model.name], label=model.name)
                await asyncio.to_thread(server.start)
                self._local[model.name] = server
            return server.base_url

    async def _stop_local(self) -> None:
        for server in self._local.values():
            await asyncio.to_thread(server.stop)
        self._local.clear()

    async def _endpoint(self, model: ModelSpec) -> Endpoint:
        provider = model.resolved_provider()
        base_url = provider.base_url
        if provider.simulated and base_url is None:
            if self._sim is None:
                from roibench.sim.player import ToolTraits
                from roibench.sim.server import SimServer

                server = SimServer()
                for cell in self.plan.cells:  # the tasks, and what their tools are declared to be
                    server.player.register(cell.tasks, ToolTraits.of(cell.workflow.env))
                await server.start()
                # published only once listening; a concurrent first caller's spare is closed
                if self._sim is None:
                    self._sim = server
                else:
                    await server.stop()
            base_url = self._sim.base_url
        elif base_url is None and is_managed(model):
            base_url = await self._local_server(model)
        if base_url is None:
            raise InputError(f"model {model.name!r}: provider {provider.name!r} needs base_url")
        key = (provider.name, base_url, provider.sends_seed)
        if key not in self._endpoints:
            concurrency = model.concurrency or self.plan.concurrency
            # limits belong to the endpoint; where models share one, the strictest applies
            same = [m for m in self.plan.suite.config.models if m.provider == model.provider]
            rpm = min((m.rpm for m in same if m.rpm), default=None)
            tpm = min((m.tpm for m in same if m.tpm), default=None)
            share = self.options.limit_share
            if share > 1:  # one of N processes sharing the endpoint's limits
                concurrency = max(1, concurrency // share)
                rpm = None if rpm is None else max(1, rpm // share)
                tpm = None if tpm is None else max(1, tpm // share)
            self._endpoints[key] = Endpoint.open(
                provider, base_url, concurrency, model.timeout_s, rpm=rpm, tpm=tpm
            )
        return self._endpoints[key]

    def _faults_header(self, model: ModelSpec) -> str | None:
        if not model.resolved_provider().simulated:
            return None
        spec = self.options.faults or model.faults
        return spec.header() if spec is not None and spec.any else None

    def _call_logger(self, key: TrialKey) -> Callable[[CallRecord], None] | None:
        journal, tap = self.journal, self.options.on_call
        if journal is None and tap is None:
            return None

        def log(call: CallRecord) -> None:
            if journal is not None:
                journal.append_call(key, call)
            if tap is not None:
                tap(key, call)

        return log

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
        """Run every trial not already done; return this run's records grouped by cell."""
        result = RunResult(trials={c.label: [] for c in self.plan.cells})
        work = self._work()
        done = self.options.done
        try:
            for cell in self.plan.cells:
                await self._endpoint(cell.model)

            async def worker() -> None:
                for cell, task, k in work:
                    if (cell.label, task.id, k) in done:
                        continue
                    if cell.label in result.stopped_cells:
                        result.skipped += 1
                        continue
                    if not await self._budget.reserve(cell.label):
                        result.skipped += 1
                        continue
                    try:
                        record = await self.run_trial(cell, task, k)
                    except BaseException:  # cancelled: give the reservation back
                        await self._budget.release(cell.label, Decimal(0))
                        raise
                    await self._budget.release(cell.label, record.fresh_cost_usd)
                    if self.options.keep_trials:
                        result.trials[cell.label].append(record)
                    if self.journal is not None:
                        await self.journal.append_async(record)
                    if record.error_class in ("billing", "auth"):
                        result.stopped_cells.setdefault(cell.label, record.outcome.reason)
                    if self.progress is not None:
                        self.progress(record)

            await asyncio.gather(*(worker() for _ in range(self.plan.concurrency)))
        finally:
            for endpoint in self._endpoints.values():
                await endpoint.aclose()
            if self._sim is not None:
                result.sim_requests = self._sim.requests
                await self._sim.stop()
            await self._stop_local()
        result.budget_stopped = self._budget.stopped
        result.spent_usd = self._budget.spent
        return result

    async def aclose(self) -> int:
        """Close the endpoints and stop the simulator (for callers of `run_trial` that do not
        use `run`); returns how many requests the in-process simulator served."""
        for endpoint in self._endpoints.values():
            await endpoint.aclose()
        self._endpoints.clear()
        served = 0
        if self._sim is not None:
            served = self._sim.requests
            await self._sim.stop()
            self._sim = None
        await self._stop_local()
        return served

    async def _user_llm(self, cell: Cell, task: Task, seed: int, k: int) -> ChatModel | None:
        """The user simulator's model for one trial (calls recorded with role 'user_sim')."""
        um = cell.user_model
        if um is None:
            return None
        params: dict[str, Any] = {}
        if um.temperature is not None:
            params["temperature"] = um.temperature
        if um.max_tokens is not None:
            params["max_tokens"] = um.max_tokens
        if um.reasoning_effort is not None:
            params["reasoning_effort"] = um.reasoning_effort
        if um.extra_body:
            params["extra_body"] = dict(um.extra_body)
        return ChatModel(
            endpoint=await self._endpoint(um),
            model_id=um.model_id,
            price=cell.user_price,
            params=params,
            seed=seed,
            max_retries=um.max_retries,
            fx=self.plan.suite.config.fx or DEFAULT_FX,
            trial=k,
            role=CallRole.USER_SIM,
            stream=um.stream,
            cache=self.options.cache,
            faults_header=self._faults_header(um),
            on_call=self._call_logger((cell.label, task.id, k)),
        )

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
            trial=k,
            stream=m.stream,
            cache=self.options.cache,
            faults_header=self._faults_header(m),
            on_call=self._call_logger((cell.label, task.id, k)),
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
        error_class: ErrorClass | None = None
        final_messages: list[dict[str, Any]] = messages
        user_llm = await self._user_llm(cell, task, seed, k)
        ctx = UserTurnContext(llm=user_llm, seed=seed)
        try:
            # multi-turn: the workflow's user (e.g. a user simulator) may open the conversation
            # and answer each agent reply; None ends it (the default: one agent turn)
            opening = await cell.workflow.user_turn(task, env, Transcript(), ctx)
            if opening is not None:
                messages[-1] = {"role": "user", "content": opening}
            state = await self._graph(cell).ainvoke(
                {"messages": messages, "done": False},
                config={"configurable": {"run": run}, "recursion_limit": 4 * run.max_steps + 10},
            )
            final_messages = state.get("messages", messages)
            limit = 4 * run.max_steps + 10
            while run.stop_reason is None:
                ctx.turn += 1
                said = await cell.workflow.user_turn(
                    task, env, Transcript(messages=final_messages, reply=run.reply), ctx
                )
                if said is None:
                    break
                turn = [*final_messages, {"role": "user", "content": said}]
                state = await self._graph(cell).ainvoke(
                    {"messages": turn, "done": False},
                    config={"configurable": {"run": run}, "recursion_limit": limit},
                )
                final_messages = state.get("messages", turn)
            if run.stop_reason is not None:  # a custom agent's reason must be in the taxonomy
                error_class = ErrorClass.of_stop_reason(run.stop_reason)
            outcome = cell.workflow.grade(
                task, env, Transcript(messages=final_messages, reply=run.reply)
            )
            if run.stop_reason is not None:
                # the grader sees only the end state ("reply does not state ..."); the cause
                # of an unfinished trial is the limit the agent stopped on
                outcome = outcome.stopped_by(run.stop_reason, _stop_detail(run))
        except LLMError as exc:
            error_class = ErrorClass(exc.error_class)
            outcome = Outcome.error(str(exc))
        except Exception as exc:  # an agent or grader bug must not kill the suite
            error_class = ErrorClass.AGENT_ERROR
            outcome = Outcome.error(f"{type(exc).__name__}: {exc}")
        if error_class is None and env.invalid_calls:
            # the agent recovered (or not) from malformed tool calls: the trial is graded as
            # usual, and the class says what went wrong on the way
            error_class = ErrorClass.INVALID_TOOL_CALL
        if error_class is None and not m.resolved_provider().simulated:
            # what real models do: a reply cut at max_tokens, or text where an action was
            # needed (the simulator's scripted deviations keep their grading only)
            error_class = trial_behaviour(llm.calls, len(env.calls), bool(task.reference_actions))
        cost = llm.cost_usd
        calls, usage = tuple(llm.calls), llm.usage
        if user_llm is not None:  # the user simulator's calls: in the record, role 'user_sim'
            user_cost = user_llm.cost_usd
            cost = None if cost is None or user_cost is None else cost + user_cost
            calls, usage = calls + tuple(user_llm.calls), usage + user_llm.usage
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
            calls=calls,
            usage=usage,
            cost_usd=cost if cost is None else Decimal(cost),
            steps=run.steps,
            tool_log=tuple(
                ToolCallRecord(
                    name=c.name,
                    args=c.args,
                    result=c.result[:2000],
                    ok=c.ok,
                    started_at=datetime.fromtimestamp(c.started_at, UTC) if c.started_at else None,
                    latency_s=c.latency_s,
                )
                for c in env.calls
            ),
            invalid_tool_calls=env.invalid_calls,
            lost_calls=tuple(self.options.lost_calls.get((cell.label, task.id, k), ())),
            started_at=started,
            duration_s=time.perf_counter() - t0,
            reply=run.reply,
        )
