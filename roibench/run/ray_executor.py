"""`--executor ray`: run a plan's trials on a pool of Ray worker actors.

Design (README, "Scaling out with Ray"):

- Each worker actor rebuilds the plan from the suite text, its path and the overrides (a plan
  holds workflow and agent instances and asyncio objects, so it is never shipped) and runs the
  ordinary async runner's `run_trial` on the trials the driver sends it, many at a time.
- A trial is an actor call that *streams*: every LLM call record as it is made, then the graded
  trial record. The driver waits on all in-flight streams (`ray.wait`) and alone writes the
  journal (call lines as the crash trail, fsynced trial lines), the progress bar and, after the
  run, MLflow. Trials are dispatched in the local runner's order (trial-major), at most the
  suite's `concurrency` in flight, to the least-loaded worker.
- A worker that dies mid-trial (killed, OOM) is restarted by Ray; the driver re-queues its
  in-flight trials, attaching the calls their lost attempts streamed (as `lost_calls`, like a
  resume). Only the first finished record of a trial is journaled, so none is billed twice.
- Rate limits: every worker gets 1/N of each endpoint's concurrency, RPM and TPM (`limit_share`),
  so the cluster as a whole stays within the suite's limits without a round-trip per request.
- `--max-spend`: one budget actor runs the local runner's `_SpendBudget` (the same
  reserve/release logic). The driver reserves there for each trial it dispatches, in the local
  runner's order, and releases it when the trial (or its loss) comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ray
import ray.exceptions

from roibench.core.errors import InputError
from roibench.core.faults import FaultSpec
from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, ErrorClass, TrialRecord
from roibench.core.usage import Usage
from roibench.journal.store import Journal, TrialKey
from roibench.run.runner import (
    RunOptions,
    RunPlan,
    RunResult,
    _CellHealth,
    _SpendBudget,
    trial_seed,
    work_order,
)

MAX_WORKER_LOSSES = 3
"""A trial whose worker died this many times is recorded as an error ('worker_lost')."""

ProgressFn = Callable[[TrialRecord], None]


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to rebuild the driver's plan: plain, picklable values."""

    suite_text: str
    suite_path: str
    overrides: dict[str, int | float | None]
    cwd: str
    cache_path: str | None = None
    faults: FaultSpec | None = None
    limit_share: int = 1


def _fresh_calls(calls: list[CallRecord]) -> Decimal:
    """What calls cost this invocation (cached ones excluded)."""
    return sum((c.cost_usd for c in calls if c.cost_usd is not None and not c.cached), Decimal(0))


class BudgetActor:
    """`--max-spend` for the whole cluster: the local runner's `_SpendBudget` in one actor.
    Reservations are held by trial key, so each is released once; spend reported for a key not
    held (a duplicate run) still counts."""

    def __init__(self, cap: str | None) -> None:
        self.budget = _SpendBudget(None if cap is None else Decimal(cap))
        self.holding: dict[TrialKey, str] = {}
        self._turn = 0
        self._turns = asyncio.Condition()

    async def reserve(self, cell: str, key: TrialKey, seq: int) -> bool:
        """True if the trial may start now (waits while in-flight trials settle).

        Reservations are decided in the driver's dispatch order (`seq` = 0, 1, ...), which is
        the local runner's order: an async actor does not start calls in the order they were
        sent, and the budget's estimate depends on which trials it admits first."""
        async with self._turns:
            await self._turns.wait_for(lambda: self._turn == seq)
        try:
            ok = await self.budget.reserve(cell)
        finally:
            async with self._turns:
                self._turn += 1
                self._turns.notify_all()
        if ok:
            self.holding[tuple(key)] = cell  # type: ignore[index]
        return ok

    async def release(self, key: TrialKey, spent: Decimal) -> None:
        """The trial finished (or was lost) having spent `spent`; idempotent per key."""
        cell = self.holding.pop(tuple(key), None)  # type: ignore[arg-type]
        if cell is not None:
            await self.budget.release(cell, spent)
        else:
            self.budget.settled += spent

    def state(self) -> tuple[Decimal, bool]:
        """(fresh spend so far, stopped)."""
        return self.budget.spent, self.budget.stopped


class TrialWorker:
    """A worker actor: the plan rebuilt from the suite, one Runner, trials run on request."""

    def __init__(self, spec: WorkerSpec) -> None:
        from roibench.config.suite import parse_suite
        from roibench.model.cache import ResponseCache
        from roibench.run.runner import Runner, plan_suite

        if os.path.isdir(spec.cwd):  # plug-ins and datasets resolve against the project dir
            os.chdir(spec.cwd)
        suite = parse_suite(spec.suite_text, Path(spec.suite_path))
        o = spec.overrides

        def whole(name: str) -> int | None:
            value = o.get(name)
            return None if value is None else int(value)

        timeout = o.get("trial_timeout_s")
        self.plan = plan_suite(
            suite,
            trials=whole("trials"),
            limit=whole("limit"),
            concurrency=whole("concurrency"),
            seed=whole("seed"),
            trial_timeout_s=None if timeout is None else float(timeout),
        )
        self.cache = ResponseCache(Path(spec.cache_path)) if spec.cache_path else None
        self._taps: dict[TrialKey, asyncio.Queue[tuple[str, Any]]] = {}
        self.options = RunOptions(
            cache=self.cache,
            faults=spec.faults,
            limit_share=spec.limit_share,
            on_call=self._tap,
        )
        self.runner = Runner(self.plan, options=self.options)
        self.cells = {c.label: (c, {t.id: t for t in c.tasks}) for c in self.plan.cells}
        self._warm: asyncio.Future[None] | None = None

    async def _open_endpoints(self) -> None:
        for cell, _ in self.cells.values():
            await self.runner._endpoint(cell.model)
            if cell.user_model is not None:
                await self.runner._endpoint(cell.user_model)

    async def _warm_up(self) -> None:
        """Open every endpoint (and start the in-process simulator) once, before any trial, as
        `Runner.run` does: trials opening them lazily would race for the simulator's port.
        Also after a restart, where the first call may be a trial."""
        if self._warm is None:
            self._warm = asyncio.ensure_future(self._open_endpoints())
        await self._warm

    async def signature(self) -> tuple[int, int, list[tuple[str, list[str]]]]:
        """(pid, trials, [(cell label, task ids)]), once warmed up: the driver checks it
        against its plan."""
        await self._warm_up()
        cells = [(label, list(tasks)) for label, (_, tasks) in self.cells.items()]
        return os.getpid(), self.plan.trials, cells

    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()

    def _tap(self, key: TrialKey, call: CallRecord) -> None:
        queue = self._taps.get(key)
        if queue is not None:
            queue.put_nowait(("call", call))

    async def run(
        self, key: TrialKey, lost: list[CallRecord], allowed: bool = True
    ) -> AsyncIterator[tuple[str, Any]]:
        """Run one trial, streaming ('call', CallRecord)... then ('trial', TrialRecord), or
        only ('skipped', None) when the spend cap does not let it start. `allowed` is the
        budget actor's answer to the driver's reservation (Ray resolves it before the call)."""
        key = (key[0], key[1], key[2])
        cell, tasks = self.cells[key[0]]
        await self._warm_up()
        if not allowed:
            yield ("skipped", None)
            return
        if lost:
            self.options.lost_calls[key] = lost
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._taps[key] = queue

        async def drive() -> None:
            try:
                record = await self.runner.run_trial(cell, tasks[key[1]], key[2])
                queue.put_nowait(("trial", record))
            except Exception as exc:  # run_trial never raises; report it if it does
                queue.put_nowait(("raised", exc))

        job = asyncio.ensure_future(drive())
        try:
            while True:
                kind, item = await queue.get()
                if kind == "raised":
                    raise item
                if kind == "trial":
                    yield (kind, item)
                    return
                yield (kind, item)
        finally:
            self._taps.pop(key, None)
            self.options.lost_calls.pop(key, None)
            if not job.done():
                job.cancel()

    async def close(self) -> int:
        """Close endpoints, the simulator and the cache; returns simulator requests served."""
        served = await self.runner.aclose()
        if self.cache is not None:
            self.cache.close()
            self.cache = None
        return served


@dataclass
class _Attempt:
    """One dispatched trial attempt, as the driver tracks it."""

    key: TrialKey
    worker: int
    calls: list[CallRecord] = field(default_factory=list)


def connect(address: str | None, *, num_cpus: int | None = None) -> bool:
    """Join the cluster at `address` ('auto' = the one `ray start` left running here), or start
    a local one on loopback without a dashboard. Returns True if this call started Ray (the
    caller then shuts it down); an already-initialised Ray is reused as it is."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network beyond the cluster
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(
            num_cpus=num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
        )
    return True


def _check_limits(plan: RunPlan, workers: int) -> None:
    """Each worker gets 1/N of every RPM/TPM limit; refuse a split below one unit."""
    for m in plan.suite.config.models:
        for name, value in (("rpm", m.rpm), ("tpm", m.tpm)):
            if value is not None and value < workers:
                raise InputError(
                    f"model {m.name!r}: {name} = {value} cannot be split across {workers} Ray "
                    f"workers (each gets 1/{workers}); use --workers {value} or fewer",
                    field="--workers",
                )


class RayExecutor:
    """Runs a plan on Ray worker actors; the driver (this object) writes the journal."""

    def __init__(
        self,
        plan: RunPlan,
        overrides: dict[str, int | float | None],
        *,
        journal: Journal | None = None,
        progress: ProgressFn | None = None,
        options: RunOptions | None = None,
        cache_path: Path | None = None,
        workers: int | None = None,
    ) -> None:
        self.plan = plan
        self.overrides = dict(overrides)
        self.journal = journal
        self.progress = progress
        self.options = options or RunOptions()
        self.cache_path = cache_path
        self.n_workers = workers
        self.workers: list[Any] = []
        """The worker actor handles (tests find a worker's pid through them)."""
        self.budget: Any = None
        self.lost_attempts = 0
        self.sim_requests_by_worker: list[int] = []
        """Requests each worker's in-process simulator served (after the run)."""
        """Trial attempts lost with their worker (and re-queued)."""

    def start(self) -> None:
        """Create the budget actor and the workers and wait until each has rebuilt the plan
        (`run` does this itself if not done yet; benchmarks call it to time the run alone)."""
        if self.workers:
            return
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        n = self.n_workers or max(1, int(cpus))
        _check_limits(self.plan, n)
        cap = self.options.max_spend_usd
        if cap is not None:
            self.budget = (
                ray.remote(BudgetActor).options(num_cpus=0, max_concurrency=10_000).remote(str(cap))
            )
        spec = WorkerSpec(
            suite_text=self.plan.suite.text,
            suite_path=str(self.plan.suite.path.resolve()),
            overrides=self.overrides,
            cwd=os.getcwd(),
            cache_path=None if self.cache_path is None else str(self.cache_path.resolve()),
            faults=self.options.faults,
            limit_share=n,
        )
        per_worker = math.ceil(self.plan.concurrency / n)
        actor = ray.remote(TrialWorker).options(
            num_cpus=min(1.0, cpus / n),
            max_restarts=MAX_WORKER_LOSSES,
            max_task_retries=0,  # the driver re-queues, attaching the lost attempt's calls
            max_concurrency=max(16, 2 * per_worker + 8),
        )
        self.workers = [actor.remote(spec) for _ in range(n)]
        expected = (
            self.plan.trials,
            [(c.label, [t.id for t in c.tasks]) for c in self.plan.cells],
        )
        try:
            signatures = ray.get([w.signature.remote() for w in self.workers])
        except ray.exceptions.RayError as exc:
            raise InputError(f"a Ray worker could not rebuild the plan: {exc}") from None
        for _pid, trials, cells in signatures:
            if (trials, cells) != expected:
                raise InputError(
                    "a Ray worker built a different plan (is the project and its datasets at "
                    f"the same path on every node?) — driver cwd {os.getcwd()}"
                )

    def run(self) -> RunResult:
        """Run every trial not already done; return this run's records grouped by cell."""
        result = RunResult(trials={c.label: [] for c in self.plan.cells})
        done = self.options.done
        cells = {c.label: c for c in self.plan.cells}
        work: deque[TrialKey] = deque(
            (cell.label, task.id, k)
            for cell, task, k in work_order(self.plan)
            if (cell.label, task.id, k) not in done
        )
        health = {c.label: _CellHealth() for c in self.plan.cells}
        planned = {c.label: len(c.tasks) * self.plan.trials for c in self.plan.cells}
        lost: dict[TrialKey, list[CallRecord]] = {
            k: list(v) for k, v in self.options.lost_calls.items()
        }
        losses: dict[TrialKey, int] = {}
        finished: set[TrialKey] = set()
        lost_spend = Decimal(0)
        trial_spend = Decimal(0)
        self.start()
        available = set(range(len(self.workers)))
        """Workers neither dead for good nor being restarted: trials go only to these."""
        pings: dict[Any, int] = {}
        """A ping per restarting worker; it answers once the worker is back."""
        load = [0] * len(self.workers)
        inflight: dict[Any, _Attempt] = {}
        reservations = 0
        try:
            while True:
                while work and len(inflight) < self.plan.concurrency and available:
                    key = work.popleft()
                    if key[0] in result.stopped_cells or result.budget_stopped:
                        result.skipped += 1
                        continue
                    w = min(available, key=lambda i: load[i])
                    allowed: Any = True
                    if self.budget is not None:
                        # reserved in dispatch order, as the local runner does
                        allowed = self.budget.reserve.remote(key[0], key, reservations)
                        reservations += 1
                    gen = self.workers[w].run.remote(key, lost.get(key, []), allowed)
                    inflight[gen] = _Attempt(key, w)
                    load[w] += 1
                if not inflight and not (work and pings):
                    if work:
                        raise RuntimeError("every Ray worker died; the journal holds what ran")
                    break
                waiting = [*inflight, *pings]
                ready, _ = ray.wait(waiting, num_returns=1, timeout=5.0)
                if ready:
                    ready, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
                for gen in ready:
                    if gen in pings:  # a restarting worker answered, or is gone for good
                        w = pings.pop(gen)
                        with contextlib.suppress(ray.exceptions.RayError):  # else: gone
                            ray.get(gen)
                            available.add(w)
                        continue
                    attempt = inflight[gen]
                    stream: Any = gen  # an ObjectRefGenerator
                    item: Any
                    try:
                        kind, item = ray.get(next(stream))
                    except StopIteration:
                        kind, item = "lost", None
                    except ray.exceptions.RayError as exc:
                        w = attempt.worker
                        if isinstance(exc, ray.exceptions.ActorDiedError):
                            available.discard(w)  # dead for good (restarts exhausted)
                        elif w in available:  # Ray restarts it: no trials until it answers
                            available.discard(w)
                            ping = self.workers[w].pid.options(max_task_retries=-1).remote()
                            pings[ping] = w
                        kind, item = "lost", None
                    key = attempt.key
                    if kind == "call":
                        attempt.calls.append(item)
                        if self.journal is not None:
                            self.journal.append_call(key, item)
                        continue
                    del inflight[gen]
                    load[attempt.worker] -= 1
                    if kind == "skipped":
                        result.skipped += 1
                        result.budget_stopped = True
                        continue
                    if kind == "lost":
                        self.lost_attempts += 1
                        lost.setdefault(key, []).extend(attempt.calls)
                        spent = _fresh_calls(attempt.calls)
                        lost_spend += spent
                        if self.budget is not None:
                            self.budget.release.remote(key, spent)
                        losses[key] = losses.get(key, 0) + 1
                        if losses[key] < MAX_WORKER_LOSSES:
                            work.appendleft(key)
                            continue
                        item = self._lost_record(cells[key[0]], key, lost[key])
                    record: TrialRecord = item
                    if self.budget is not None and kind == "trial":
                        self.budget.release.remote(key, record.fresh_cost_usd)
                    if key in finished:  # a duplicate of a re-queued trial: never billed twice
                        continue
                    finished.add(key)
                    trial_spend += record.fresh_cost_usd
                    if self.options.keep_trials:
                        result.trials[key[0]].append(record)
                    if self.journal is not None:
                        self.journal.append(record)
                    if health[key[0]].observe(record, planned[key[0]]):
                        result.stopped_cells.setdefault(key[0], record.outcome.reason)
                    if self.progress is not None:
                        self.progress(record)
        finally:
            result.sim_requests = self._close()
        result.spent_usd = trial_spend + lost_spend
        return result

    def _lost_record(self, cell: Any, key: TrialKey, lost: list[CallRecord]) -> TrialRecord:
        """The error record of a trial whose worker died MAX_WORKER_LOSSES times."""
        task = next(t for t in cell.tasks if t.id == key[1])
        return TrialRecord(
            cell=cell.label,
            workflow=cell.workflow.name,
            agent=cell.agent.name,
            model=cell.model.name,
            task_id=task.id,
            tier=task.tier,
            trial=key[2],
            seed=trial_seed(self.plan.seed, task.id, key[2]),
            outcome=Outcome.error(f"the Ray worker died {MAX_WORKER_LOSSES} times running it"),
            error_class=ErrorClass.WORKER_LOST,
            calls=(),
            usage=Usage(),
            cost_usd=Decimal(0) if cell.price is not None else None,
            steps=0,
            invalid_tool_calls=0,
            tool_log=(),
            lost_calls=tuple(lost),
            reply="",
            started_at=datetime.now(UTC),
            duration_s=0.0,
        )

    def _close(self) -> int:
        """Close every live worker (endpoints, simulator, cache) and drop the actors."""
        self.sim_requests_by_worker = []
        for w in self.workers:
            served = 0
            with contextlib.suppress(ray.exceptions.RayError, TimeoutError):
                served = int(ray.get(w.close.remote(), timeout=30))
            self.sim_requests_by_worker.append(served)
            ray.kill(w, no_restart=True)
        if self.budget is not None:
            ray.kill(self.budget, no_restart=True)
        return sum(self.sim_requests_by_worker)


def run_on_ray(
    plan: RunPlan,
    overrides: dict[str, int | float | None],
    *,
    journal: Journal | None = None,
    progress: ProgressFn | None = None,
    options: RunOptions | None = None,
    cache_path: Path | None = None,
    address: str | None = None,
    workers: int | None = None,
) -> RunResult:
    """Connect (or start a local cluster), run the plan on `workers` actors, disconnect."""
    started = connect(address)
    try:
        executor = RayExecutor(
            plan,
            overrides,
            journal=journal,
            progress=progress,
            options=options,
            cache_path=cache_path,
            workers=workers,
        )
        return executor.run()
    finally:
        if started:
            ray.shutdown()
