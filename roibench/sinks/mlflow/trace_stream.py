"""The MLflow helper: a process that owns a run's MLflow logging, so the run's own process never
imports MLflow or waits for its store.

Started first thing in a run (`SinkHelper()`, on Linux a fork of a single-threaded process, so
it starts in milliseconds), it imports MLflow, its SQL store, pandas and matplotlib while the
run plans and its trials start — about 2.5 s of CPU on another core instead of the run's
critical path. Once the run's journal has its header (`start`) it opens the tracking store and
follows the journal as it grows: each finished trial becomes its rows of the `trials` and
`calls` tables and, when sampled, its trace, written in batches. The runner pays nothing per
trial for any of it (it writes every trial to the journal anyway). At the end (`finish`) the
run hands over its summaries and the helper logs the runs, metrics, tables and plots and links
the traces, then exits.

Everything the helper writes comes from the journal and the RunSpec, never the live plan. Any
failure of the helper itself (killed, a store that cannot take batched spans) leaves the work
to the run's process, from the journal: nothing is lost and no trace is written twice — each
batch of traces is reported once it is written.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roibench.core.records import TrialRecord
from roibench.sinks.mlflow.traces import trace_sampled

if TYPE_CHECKING:
    from roibench.journal.spec import CellSpec, RunSpec
    from roibench.results.summary import CellSummary
    from roibench.sinks.mlflow.runs import CellTables
    from roibench.sinks.mlflow.traces import TracePlan

BATCH_TRIALS = 25
"""Traces per write. Small: each write holds the SQLite store's write lock, and the runs logged at
the end of a run wait for it; the cost per request is small beside the cost per trace."""
BATCH_WAIT_S = 0.5
"""The longest a finished trial waits for its batch to fill."""
POLL_S = 0.1
"""How often the helper looks for new journal lines (and messages) when it has caught up."""
FINISH_TIMEOUT_S = 600.0
"""How long `finish` waits without hearing from the helper before giving up on it."""


@dataclass
class MlflowOutcome:
    """Whether logging worked."""

    run_id: str | None
    tracking_uri: str
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class StreamedTraces:
    """Traces already written during the run, by cell: their ids and the (task, trial) keys."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    keys: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    error: str | None = None
    """Why streaming stopped short (the helper failed or timed out), else None: then `ids` and
    `keys` hold what it did write, and the other sampled trials still need a trace."""


@dataclass(frozen=True)
class _Start:
    """The run's journal has its header: open the store and follow the journal."""

    tracking_uri: str | None
    """The parent's URI when it had set one in-process (else the helper resolves it alike)."""
    experiment: str
    journal: str
    trace_from: int
    """Byte offset of the journal's end when the run started: the trials before it (a resumed
    run's) are traced at the end, after the sink has cleared what an earlier logging of the
    journal left, like every trial not traced while the run went."""
    sample: float
    seed: int
    contexts: dict[str, dict[str, Any]]
    """Per cell label, what its traces share (`traces.trace_fields`)."""
    fresh: bool = False
    """The journal was started by this run: nothing can have been logged for it before, so
    there is nothing earlier to clear from MLflow (~0.4 s of trace searching at 1,000 traces)."""
    cells: tuple[CellSpec, ...] = ()
    """The run's cells (from its RunSpec): their dataset inputs are built while the trials run."""


@dataclass(frozen=True)
class _Finish:
    """The last trial is in the journal: log the run."""

    spec: RunSpec
    summaries: dict[str, CellSummary]
    extra_tags: dict[str, str] | None


def _fresh_connections_after_fork() -> None:
    """A forked helper must not touch the database connections its parent opened (two
    processes on one SQLite or Postgres connection corrupt each other's state): give MLflow's
    cached engines new, empty pools, leaving the parent's connections open for the parent.
    MLflow's own HTTP sessions are per process already."""
    store_module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    if store_module is None:
        return
    for engine in list(getattr(store_module.SqlAlchemyStore, "_engine_map", {}).values()):
        engine.dispose(close=False)


def _start_method() -> str:
    """'fork' where it is safe: on Linux, from a process with a single thread (no lock can be
    held by a thread the child would not have). Elsewhere 'spawn' (a fresh interpreter, which
    imports roibench as well, on another core)."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _warm_plots() -> None:
    """What drawing the plots needs, imported ahead."""
    import matplotlib

    matplotlib.use("Agg")  # no display (the plots draw on Figure + Agg, never pyplot)
    import matplotlib.backends.backend_agg
    import matplotlib.figure
    import matplotlib.ticker

    import roibench.sinks.plots

    del matplotlib, roibench  # imported for their side effect: loaded


def _warm_imports(*, plots: bool) -> None:
    """What the helper will need, imported while the run's process plans and runs trials."""
    import mlflow
    import mlflow.data
    import mlflow.store.tracking.sqlalchemy_store  # SQLAlchemy and alembic
    import mlflow.tracing.client
    import pandas

    import roibench.sinks.mlflow.runs

    del mlflow, pandas, roibench  # imported for their side effect: loaded
    if plots:
        _warm_plots()


class _Plotter:
    """A child of the helper that draws the plots while the helper logs the runs and tables
    (matplotlib's drawing is the longest part of the end of a run, and the run's own process
    is idle then: the plots get the other core). Forked first thing, while the helper has a
    single thread, it imports matplotlib while the helper imports MLflow, waits for the cells
    on a pipe and sends the PNGs back on another. It exits when the helper closes the pipe,
    or dies."""

    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self.pid = pid
        self._to = to_child
        self._from = from_child

    @classmethod
    def fork(cls) -> _Plotter | None:
        """Fork the plotter (Linux, single-threaded helper only), or None."""
        if not sys.platform.startswith("linux") or threading.active_count() != 1:
            return None
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the plotter
            code = 1
            try:
                os.close(down_w)
                os.close(up_r)
                _warm_plots()
                with os.fdopen(down_r, "rb") as down:
                    cells, pricing = pickle.load(down)  # EOFError: the helper is done or gone
                from roibench.sinks.plots import suite_plots

                images = suite_plots(cells, pricing)
                with os.fdopen(up_w, "wb") as up:
                    pickle.dump(images, up)
                code = 0
            finally:
                os._exit(code)  # never the helper's atexit handlers or buffers
        os.close(down_r)
        os.close(up_w)
        return cls(pid, down_w, up_r)

    def draw(self, cells: list[Any], pricing: Any) -> None:
        """Start drawing."""
        with os.fdopen(self._to, "wb") as down:
            self._to = -1
            pickle.dump((cells, pricing), down)

    def images(self) -> dict[str, bytes] | None:
        """The drawn plots (waits for them), or None if the plotter failed."""
        try:
            with os.fdopen(self._from, "rb") as up:
                self._from = -1
                images = pickle.load(up)
        except Exception:
            images = None
        self.close()
        return images

    def close(self) -> None:
        """Let the plotter go (it exits on the closed pipe) and reap it."""
        for fd in (self._to, self._from):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to = self._from = -1
        if self.pid:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0


def _parent_gone(parent_pid: int) -> bool:
    return os.getppid() != parent_pid


def _receive(inbox: Any, parent_pid: int) -> Any:
    """The next message from the run (None once the run's process is gone)."""
    while not inbox.poll(POLL_S):
        if _parent_gone(parent_pid):
            return None
    return inbox.recv()


class _Follower:
    """The helper's side of a run: follow the journal into tables and traces."""

    def __init__(self, start: _Start, client: Any, experiment_id: str, outbox: Any) -> None:
        from roibench.sinks.mlflow.runs import CellTables
        from roibench.sinks.mlflow.traces import TraceContext

        self.start = start
        self.client = client
        self.experiment_id = experiment_id
        self.outbox = outbox
        self.tables: dict[str, CellTables] = {cell: CellTables() for cell in start.contexts}
        self.ctxs = {
            cell: TraceContext(experiment_id=experiment_id, run_id="", cell=cell, **fields)
            for cell, fields in start.contexts.items()
        }
        self.written = StreamedTraces(
            ids={cell: [] for cell in start.contexts}, keys={cell: set() for cell in start.contexts}
        )
        self.pending: list[tuple[TrialRecord, TracePlan]] = []
        self.oldest = 0.0  # when the first pending trace arrived
        self.tracing = True  # off once the store refused a batch: the rest goes to the sink

    def add(self, record: TrialRecord, *, stream: bool = True) -> None:
        """One finished trial: its table rows, and its trace when sampled (now, when `stream`;
        else at the end)."""
        from roibench.sinks.mlflow.runs import call_rows, trial_row
        from roibench.sinks.mlflow.traces import plan_trace

        table = self.tables.get(record.cell)
        if table is None:
            return
        table.trial_rows.append(trial_row(record))
        table.span(record)
        table.call_rows.extend(call_rows(record))
        if not trace_sampled(self.start.seed, record.task_id, record.trial, self.start.sample):
            return
        table.traced += 1
        if not (self.tracing and stream):
            table.to_trace.append(record)
            return
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append((record, plan_trace(record, self.ctxs[record.cell])))

    def flush(self, *, force: bool) -> None:
        """Write the pending traces when a batch is full, has waited long enough, or `force`."""
        from roibench.sinks.mlflow.traces import write_spans

        if not self.pending:
            return
        due = time.monotonic() - self.oldest >= BATCH_WAIT_S
        if not (force or due or len(self.pending) >= BATCH_TRIALS):
            return
        batch, self.pending = self.pending, []
        try:
            write_spans([plan for _, plan in batch], self.experiment_id, self.client)
        except Exception as exc:  # e.g. a store without span logging: the sink writes them
            self.tracing = False
            self.written.error = f"{type(exc).__name__}: {exc}"
            for record, _ in batch:
                self.tables[record.cell].to_trace.append(record)
            return
        done = [(r.cell, r.task_id, r.trial, plan.mlflow_id) for r, plan in batch]
        for cell, task_id, trial, trace_id in done:
            self.written.ids[cell].append(trace_id)
            self.written.keys[cell].add((task_id, trial))
        self.outbox.put(("written", done))


HELPER_NICENESS = 10
"""How much lower the helper's (and its plotter's) CPU priority is than the run's: on a busy
machine the run's planning and trials come first, the helper takes the CPU they leave (its
imports overlap the trials' waits instead of slowing the run's start)."""


def _yield_the_cpu() -> None:
    # where the platform has no nice, the helper just competes
    with contextlib.suppress(AttributeError, OSError):
        os.nice(HELPER_NICENESS)


def _helper_main(inbox: Any, outbox: Any, parent_pid: int) -> None:
    """The helper process: warm the imports, wait for the run to start, follow its journal,
    log the run when it finishes. Stops by itself if the parent dies (a killed run must not
    leave it polling forever)."""
    phase = "start"
    plotter: _Plotter | None = None
    try:
        _fresh_connections_after_fork()
        _yield_the_cpu()
        plotter = _Plotter.fork()  # before this process starts any thread (the queue's)
        _warm_imports(plots=plotter is None)
        start = _receive(inbox, parent_pid)
        if not isinstance(start, _Start):
            return  # the run was refused (nothing to log) or the parent is gone
        import mlflow
        from mlflow.tracking import MlflowClient

        from roibench.journal.store import trial_from_line
        from roibench.sinks.mlflow.runs import (
            bound_mlflow_retries,
            dataset_inputs,
            experiment_id_for,
            log_suite_run,
            logging_failure,
            tracking_reachable,
            unreachable_message,
        )

        bound_mlflow_retries()
        if start.tracking_uri is not None:
            mlflow.set_tracking_uri(start.tracking_uri)
        uri = mlflow.get_tracking_uri()
        outbox.put(("uri", uri))
        problem = tracking_reachable(uri)
        if problem is not None:
            outbox.put(("unreachable", unreachable_message(problem, Path(start.journal))))
            return
        client = MlflowClient()
        experiment_id = experiment_id_for(client, start.experiment)
        with contextlib.suppress(Exception):  # if it fails, it fails again at the end, reported
            for cell in start.cells:
                dataset_inputs(cell)
        follower = _Follower(start, client, experiment_id, outbox)
        phase = "follow"
        finish: _Finish | None = None
        partial = b""
        at = 0  # byte offset of the next line
        with open(start.journal, "rb") as f:
            while True:
                if finish is None and inbox.poll():
                    message = inbox.recv()
                    if not isinstance(message, _Finish):
                        return  # abandoned
                    finish = message  # sent after the last line was written
                data = f.read()
                if data:
                    *lines, partial = (partial + data).split(b"\n")
                    for line in lines:
                        record = trial_from_line(line)
                        if record is not None:
                            follower.add(record, stream=at >= start.trace_from)
                        at += len(line) + 1
                follower.flush(force=finish is not None and not data)
                if data:
                    continue
                if finish is not None:
                    break
                if _parent_gone(parent_pid):
                    return  # the run was killed: nobody is left to read what we would log
                inbox.poll(POLL_S)  # wakes at once for the run's finish, not after a sleep
        assert finish is not None
        phase = "log"
        plots = None
        if plotter is not None:
            from roibench.sinks.mlflow.runs import plot_cells

            plotter.draw(plot_cells(finish.spec, finish.summaries), finish.spec.outcome_pricing)
            plots = plotter.images
        try:
            run_id = log_suite_run(
                finish.spec, (), finish.summaries, Path(start.journal), finish.spec.run_name,
                start.experiment, trace_sample=start.sample, streamed=follower.written,
                extra_tags=finish.extra_tags, tables=follower.tables, plot_images=plots,
                fresh_journal=start.fresh,
            )  # fmt: skip
        except Exception as exc:  # as `log_to_mlflow` says it: the journal has it all
            outbox.put(("error", phase, logging_failure(exc, uri, Path(start.journal))))
            return
        outbox.put(("done", run_id))
    except BaseException as exc:  # reported to the parent, which falls back where it can
        from roibench.core.secrets import redact

        outbox.put(("error", phase, redact(f"{type(exc).__name__}: {exc}")[:500]))
    finally:
        if plotter is not None:
            plotter.close()


class SinkHelper:
    """The run's side of the MLflow helper: `start` once the journal has its header, `finish`
    after the last trial (returns what was logged), or `abort` for a run that will not run."""

    def __init__(self) -> None:
        ctx: Any = mp.get_context(_start_method())
        # to the helper, a pipe: sending on it starts no thread here (a queue would, and a
        # process with threads can no longer fork safely); from it, a queue: the helper's
        # reports buffer there until `finish` reads them
        receive, self._inbox = ctx.Pipe(duplex=False)
        self._outbox: Any = ctx.Queue()
        self._process = ctx.Process(
            target=_helper_main,
            args=(receive, self._outbox, os.getpid()),
            name="roibench-mlflow",
            daemon=True,
        )
        self._process.start()
        self._start: _Start | None = None
        self._done = False
        self.uri: str | None = None
        self.written = StreamedTraces()

    @property
    def pid(self) -> int | None:
        """The helper process's id."""
        return self._process.pid

    def start(
        self,
        spec: RunSpec,
        journal: Path,
        experiment: str | None,
        sample: float,
        contexts: dict[str, dict[str, Any]],
        *,
        fresh: bool = False,
    ) -> None:
        """The journal has its header: open the store, trace the sampled trials and build the
        tables as the journal grows (the tables from its first line: a resumed run's earlier
        trials too, whose traces are written at the end). `fresh`: this run started the
        journal (not a resume)."""
        mlflow = sys.modules.get("mlflow")  # set in-process by a caller (tests, benchmarks)
        uri = mlflow.get_tracking_uri() if mlflow is not None else None
        self._start = _Start(
            tracking_uri=uri,
            experiment=experiment or spec.suite.name,
            journal=str(journal),
            trace_from=journal.stat().st_size if journal.exists() else 0,
            sample=sample,
            seed=spec.seed,
            contexts=contexts,
            fresh=fresh,
            cells=tuple(spec.cells),
        )
        self.written = StreamedTraces(
            ids={cell: [] for cell in contexts}, keys={cell: set() for cell in contexts}
        )
        self._inbox.send(self._start)

    def abort(self) -> None:
        """Stop the helper without logging anything (a refused or failed run)."""
        if not self._done:
            self._done = True
            with contextlib.suppress(OSError):  # it may be gone already
                self._inbox.send("abort")
            self._process.join(timeout=2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=10)

    def finish(
        self,
        spec: RunSpec,
        summaries: dict[str, CellSummary],
        *,
        extra_tags: dict[str, str] | None = None,
        timeout_s: float = FINISH_TIMEOUT_S,
    ) -> MlflowOutcome:
        """Hand over the summaries and wait until the helper has logged the run. Should the
        helper fail before logging, the run is logged from this process, from the journal,
        with the traces the helper reported written linked, not written again."""
        if self._start is None:
            raise RuntimeError("SinkHelper.finish before start")
        outcome: MlflowOutcome | None = None
        failure = "the MLflow helper did not finish in time"
        try:
            self._inbox.send(_Finish(spec=spec, summaries=summaries, extra_tags=extra_tags))
        except OSError:  # it died: the queue still holds what it reported
            timeout_s = 0.0
        deadline = time.monotonic() + timeout_s
        while outcome is None:
            try:
                message = self._outbox.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                if not self._process.is_alive() and self._outbox.empty():
                    failure = f"the MLflow helper died (exit code {self._process.exitcode})"
                    break
                if time.monotonic() >= deadline:
                    break
                continue
            deadline = time.monotonic() + timeout_s  # it is making progress
            kind = message[0]
            if kind == "uri":
                self.uri = message[1]
            elif kind == "written":
                for cell, task_id, trial, trace_id in message[1]:
                    self.written.ids.setdefault(cell, []).append(trace_id)
                    self.written.keys.setdefault(cell, set()).add((task_id, trial))
            elif kind == "done":
                outcome = MlflowOutcome(message[1], self.uri or "")
                self._record_logged(message[1], extra_tags)
            elif kind == "unreachable":
                outcome = MlflowOutcome(None, self.uri or "", message[1])
            elif message[1] == "log":  # logging itself failed: it would fail here as well
                outcome = MlflowOutcome(None, self.uri or "", message[2])
            else:
                failure = f"the MLflow helper failed: {message[2]}"
                break
        self._done = True
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)
        if outcome is not None:
            return outcome
        self.written.error = failure
        return self._log_here(spec, summaries, extra_tags)

    def _record_logged(self, run_id: str, extra_tags: dict[str, str] | None) -> None:
        """The journal's 'logged' line (the parent run's id), as `log_to_mlflow` writes it."""
        from roibench.core.secrets import redact
        from roibench.journal.store import Journal

        if extra_tags is not None and "roibench.reprice" in extra_tags:
            return
        assert self._start is not None
        journal = Journal(Path(self._start.journal))
        try:
            journal.append_logged(run_id, redact(self.uri or ""))
        finally:
            journal.close()

    def _log_here(
        self, spec: RunSpec, summaries: dict[str, CellSummary], extra_tags: dict[str, str] | None
    ) -> MlflowOutcome:
        """The fallback: log from this process, from the journal."""
        from roibench.journal.store import iter_trials
        from roibench.sinks.mlflow.runs import log_to_mlflow

        assert self._start is not None
        journal = Path(self._start.journal)
        return log_to_mlflow(
            spec, iter_trials(journal), summaries, journal, self._start.experiment,
            trace_sample=self._start.sample, streamed=self.written, extra_tags=extra_tags,
        )  # fmt: skip

    def close(self) -> None:
        """Stop the helper if it is still running (after an interruption)."""
        if not self._done:
            self._done = True
            self._process.kill()
            self._process.join(timeout=10)
