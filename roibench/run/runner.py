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
from roibench.core.errors import HarnessError, InputError
from roibench.core.faults import FaultSpec
from roibench.core.outcomes import Outcome, OutcomeStatus
from roibench.core.records import (
    CallRecord,
    CallRole,
    ErrorClass,
    ToolCallRecord,
    TrialRecord,
    record_messages,
)
from roibench.core.secrets import redact
from roibench.journal.store import Journal, TrialKey
from roibench.model.cache import ResponseCache
from roibench.model.client import ChatModel, Endpoint, LimitReached, LLMError
from roibench.model.errors import trial_behaviour
from roibench.model.local_server import LlamaServer, LocalModel
from roibench.pricing.cards import DEFAULT_FX, Pricer
from roibench.run.budget import SpendCap, TrialGuard
from roibench.run.local_models import is_managed, prepare_local_models
from roibench.run.plugins import resolve_agent, resolve_workflow
from roibench.workflow import Env, Transcript, UserTurnContext, Workflow


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
    trial_timeout_s: float | None = None
    """Wall-clock limit of one trial (None: none)."""
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
    trial_timeout_s: float | None = None,
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
        trial_timeout_s=trial_timeout_s or cfg.trial_timeout_s,
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


def _stop_detail(run: AgentRun, reason: str) -> str:
    if reason == ErrorClass.STEP_LIMIT:
        return f"the agent used all {run.max_steps} steps (max_steps) before it finished"
    if reason in (ErrorClass.TOKEN_LIMIT, ErrorClass.BUDGET_EXCEEDED):
        return f"the agent used its {run.max_tokens} tokens (max_tokens_per_trial)"
    return f"the agent stopped ({reason})"


def tier_spread(tasks: tuple[Task, ...]) -> list[Task]:
    """The tasks reordered so every prefix holds each tier in proportion (the j-th of a tier's
    n tasks at (j + 1/2) / n), each tier keeping its own order: a run cut short still sees the
    whole mix of difficulty, not the easy tasks datasets list first."""
    by_tier: dict[str, list[Task]] = {}
    for task in tasks:
        by_tier.setdefault(task.tier, []).append(task)
    order = list(by_tier)
    keyed = [
        ((j + 0.5) / len(group), order.index(tier), task)
        for tier, group in by_tier.items()
        for j, task in enumerate(group)
    ]
    return [task for *_, task in sorted(keyed, key=lambda x: (x[0], x[1]))]


def work_order(plan: RunPlan) -> Iterator[tuple[Cell, Task, int]]:
    """The order trials start in: trial-major (every task gets trial 0 before any gets trial
    1), and within a round the cells interleaved task by task, each cell's tasks spread over
    its tiers — so a spend cap or an interrupt leaves every cell partly measured, on a fair
    mix of its tasks, instead of the first cells complete and the last ones not run."""
    spread = [tier_spread(cell.tasks) for cell in plan.cells]
    longest = max((len(tasks) for tasks in spread), default=0)
    for k in range(plan.trials):
        for i in range(longest):
            for cell, tasks in zip(plan.cells, spread, strict=True):
                if i < len(tasks):
                    yield cell, tasks[i], k


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
    """The run's fresh spend cap, checked before every trial and every request (see
    roibench.run.budget)."""
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
    """Cells stopped early, with the provider's message: by a billing or authentication
    error, or because their first trials all failed with the same final error (e.g. an
    unknown model)."""
    skipped: int = 0
    """Trials not started (spend cap or a stopped cell)."""
    budget_stopped: bool = False
    spent_usd: Decimal = Decimal(0)
    """Fresh spend of this invocation (cached calls excluded)."""


_SpendBudget = SpendCap  # the name the Ray budget actor imports

EARLY_STOP_AFTER = 3
"""A cell stops once this many of its trials (or all it has, if fewer) have failed with the
same final, non-retryable error and none got further: every further trial would too."""
STOP_AT_ONCE = (ErrorClass.BILLING, ErrorClass.AUTH)
"""Final errors that stop a cell at the first trial."""
FINAL_ERRORS = (ErrorClass.BILLING, ErrorClass.AUTH, ErrorClass.NOT_FOUND, ErrorClass.BAD_REQUEST)
"""Error classes of final (non-retryable) provider answers."""


@dataclass
class _CellHealth:
    """Whether a cell's trials so far all failed the same final way."""

    error_class: str | None = None
    count: int = 0
    healthy: bool = False
    """Some trial got past the provider: the cell is never stopped for a repeated error."""

    def observe(self, record: TrialRecord, planned: int) -> bool:
        """Count a finished trial; True when the cell should stop."""
        if self.healthy:
            return False
        cls = record.error_class
        if record.outcome.status is not OutcomeStatus.ERROR or cls not in FINAL_ERRORS:
            self.healthy = True
            return False
        if cls in STOP_AT_ONCE:
            return True
        if self.error_class not in (None, cls):
            self.healthy = True  # two different final errors: not one systematic cause
            return False
        self.error_class, self.count = cls, self.count + 1
        return self.count >= min(EARLY_STOP_AFTER, planned)


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
        self._budget = SpendCap(self.options.max_spend_usd)
        self._health: dict[str, _CellHealth] = {}

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
        return work_order(self.plan)

    def _stop_if_failing(self, cell: Cell, record: TrialRecord, result: RunResult) -> None:
        """Stop a cell at a billing or auth error, or once its first trials all failed with
        the same final error (every further trial would: an unknown model, a bad key)."""
        health = self._health.setdefault(cell.label, _CellHealth())
        if health.observe(record, len(cell.tasks) * self.plan.trials):
            result.stopped_cells.setdefault(cell.label, record.outcome.reason)

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
                        self.journal.append_soon(record)  # fsynced meanwhile: see `drain`
                    self._stop_if_failing(cell, record, result)
                    if self.progress is not None:
                        self.progress(record)

            await asyncio.gather(*(worker() for _ in range(self.plan.concurrency)))
            if self.journal is not None:
                await self.journal.drain()  # every trial on disk before the run is done
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

    @staticmethod
    def _grade(
        cell: Cell,
        task: Task,
        env: Env,
        messages: list[dict[str, Any]],
        reply: str,
        limit: ErrorClass | None,
        detail: str,
    ) -> Outcome:
        """The grader's verdict; a grader that raises or returns no Outcome is a harness
        error naming it. A trial a limit ended is graded on what it did (harm done is harm),
        a failure naming the limit as its cause (`Outcome.stopped_by`); one the run's spend cap
        cut is not a measurement of the agent: an `error` unless it had already done harm."""
        where = f"grader of workflow {cell.workflow.name}"
        try:
            outcome = cell.workflow.grade(task, env, Transcript(messages=messages, reply=reply))
        except Exception as exc:
            return Outcome.harness_error(redact(f"{where} raised {type(exc).__name__}: {exc}"))
        if not isinstance(outcome, Outcome):
            return Outcome.harness_error(
                f"{where} returned {type(outcome).__name__}, not an Outcome"
            )
        if limit is None:
            return outcome
        if limit == ErrorClass.BUDGET_EXHAUSTED and outcome.status is not OutcomeStatus.HARMFUL:
            return Outcome.error("budget_exhausted: the run's spend cap stopped the trial")
        return outcome.stopped_by(limit, detail)

    @staticmethod
    def _timeout_outcome(
        cell: Cell, env: Env, llm: ChatModel, user_llm: ChatModel | None, timeout: float | None
    ) -> Outcome:
        """A trial cancelled by `trial_timeout_s`, by where it hung: in a tool, a harness error
        naming it; waiting for a model, an error; elsewhere, the agent's (or workflow's) own
        code hung: a harness error naming the agent."""
        after = f"did not finish within trial_timeout_s = {timeout:g} s"
        tool = getattr(env, "cancelled_in", None)
        if tool:
            return Outcome.harness_error(
                f"workflow {cell.workflow.name}: tool {tool!r} {after} (cancelled)"
            )
        if llm.pending or (user_llm is not None and user_llm.pending):
            return Outcome.error(f"trial_timeout: waiting for the model, the trial {after}")
        return Outcome.harness_error(f"agent {cell.agent.name}: the trial {after} (cancelled)")

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

    async def _user_llm(
        self, cell: Cell, task: Task, seed: int, k: int, guard: TrialGuard
    ) -> ChatModel | None:
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
            guard=guard,
        )

    async def run_trial(self, cell: Cell, task: Task, k: int) -> TrialRecord:
        """Run and grade one trial. Never raises for model, agent, tool or grader failures
        (only for cancellation from outside, e.g. Ctrl-C)."""
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
        guard = TrialGuard(
            self._budget,
            max_steps=cell.agent_ref.max_steps,
            max_tokens=cell.agent_ref.max_tokens_per_trial,
        )
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
            guard=guard,
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
        outcome: Outcome | None = None
        final_messages: list[dict[str, Any]] = messages
        user_llm = await self._user_llm(cell, task, seed, k, guard)
        ctx = UserTurnContext(llm=user_llm, seed=seed)
        timeout = self.plan.trial_timeout_s
        scope: asyncio.Timeout | None = None

        def cancel_now() -> None:  # the agent ignores LimitReached: end the trial
            if scope is not None:
                scope.reschedule(asyncio.get_running_loop().time())

        guard.cancel = cancel_now
        try:
            async with asyncio.timeout(timeout) as scope:
                # multi-turn: the workflow's user (e.g. a user simulator) may open the
                # conversation and answer each agent reply; None ends it (the default: one
                # agent turn)
                opening = await cell.workflow.user_turn(task, env, Transcript(), ctx)
                if opening is not None:
                    messages[-1] = {"role": "user", "content": opening}
                limit = 4 * run.max_steps + 10
                state = await self._graph(cell).ainvoke(
                    {"messages": messages, "done": False},
                    config={"configurable": {"run": run}, "recursion_limit": limit},
                )
                final_messages = state.get("messages", messages)
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
        except LimitReached as exc:
            error_class = exc.reason
        except TimeoutError:
            if guard.tripped is not None:  # cancelled for ignoring a limit
                error_class = guard.tripped
            else:
                error_class = ErrorClass.TRIAL_TIMEOUT
                outcome = self._timeout_outcome(cell, env, llm, user_llm, timeout)
        except LLMError as exc:
            error_class = ErrorClass(exc.error_class)
            outcome = Outcome.error(str(exc))
        except HarnessError as exc:  # a tool raised something other than ToolError
            error_class = ErrorClass.HARNESS_ERROR
            outcome = Outcome.harness_error(f"workflow {cell.workflow.name}: {exc}")
        except Exception as exc:  # an agent (or user_turn) bug must not kill the suite
            error_class = ErrorClass.HARNESS_ERROR
            outcome = Outcome.harness_error(
                redact(
                    f"agent {cell.agent.name} on workflow {cell.workflow.name}: raised "
                    f"{type(exc).__name__}: {exc}"
                )
            )
        if guard.tripped is not None and error_class not in (
            guard.tripped,
            ErrorClass.HARNESS_ERROR,
        ):
            error_class = guard.tripped  # the agent swallowed the LimitReached it was given
        crash = getattr(env, "harness_error", None)
        if isinstance(crash, HarnessError):  # a tool bug, whatever the agent did with it
            error_class = ErrorClass.HARNESS_ERROR
            outcome = Outcome.harness_error(f"workflow {cell.workflow.name}: {crash}")
        if outcome is None:
            detail = _stop_detail(run, error_class) if error_class else ""
            outcome = self._grade(cell, task, env, final_messages, run.reply, error_class, detail)
            if outcome.status is OutcomeStatus.HARNESS_ERROR:
                error_class = ErrorClass.HARNESS_ERROR
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
            messages=record_messages(final_messages),
        )
