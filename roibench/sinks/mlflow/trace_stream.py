"""Streaming traces to MLflow from a separate process while the trials run.

Writing a trace costs the tracking store several milliseconds; done after the run, a suite
that traces every trial spends a large share of its wall time there. The runner's own process
is the busy one (its event loop drives every trial), so a helper process builds and logs the
traces in batches on another core. It reads the finished trials from the journal as it grows
(the runner writes every trial there anyway), so the runner pays nothing per trace: no second
serialisation, no queue. At the end the sink only links the streamed traces to their cell
runs. Any failure in the helper (an old server, a file store without span logging) leaves the
traces to the sink's own end-of-run path: nothing is lost, only the speed-up.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roibench.core.records import TrialRecord
from roibench.sinks.mlflow.traces import trace_sampled

BATCH_TRIALS = 25
"""Traces per write. Small: each write holds the SQLite store's write lock, and the runs logged at
the end of a run wait for it; the cost per request is small beside the cost per trace."""
BATCH_WAIT_S = 0.5
"""The longest a finished trial waits for its batch to fill."""
POLL_S = 0.1
"""How often the helper looks for new journal lines when it has caught up."""


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
    held by a thread the child would not have). It saves the helper the ~2 s of CPU that a
    fresh interpreter spends importing MLflow. Elsewhere 'spawn'."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _worker(
    tracking_uri: str,
    experiment_id: str,
    contexts: dict[str, dict[str, Any]],
    journal: str,
    offset: int,
    seed: int,
    sample: float,
    parent_pid: int,
    finished: Any,
    outbox: Any,
) -> None:
    """Helper process: follow the journal from `offset`, trace the sampled trials in batches,
    and once `finished` is set and every line is read, say so. Each batch is reported once it
    is written, so a helper that fails half-way leaves the parent knowing which trials still
    need a trace. Stops by itself if the parent dies (a killed run must not leave it polling
    forever)."""
    try:
        _fresh_connections_after_fork()
        from mlflow.tracking import MlflowClient

        from roibench.journal.store import trial_from_line
        from roibench.sinks.mlflow.traces import TraceContext, TracePlan, plan_trace, write_spans

        client = MlflowClient(tracking_uri=tracking_uri)
        ctxs = {
            cell: TraceContext(experiment_id=experiment_id, run_id="", cell=cell, **fields)
            for cell, fields in contexts.items()
        }
        pending: list[tuple[str, str, int, TracePlan]] = []  # cell, task, trial, trace
        oldest = 0.0  # when the first pending trace arrived
        partial = b""
        with open(journal, "rb") as f:
            f.seek(offset)
            while True:
                last_look = bool(finished.value)  # set after the last line was written
                data = f.read()
                if data:
                    *lines, partial = (partial + data).split(b"\n")
                    for line in lines:
                        record = trial_from_line(line)
                        if record is None or record.cell not in ctxs:
                            continue
                        if not trace_sampled(seed, record.task_id, record.trial, sample):
                            continue
                        if not pending:
                            oldest = time.monotonic()
                        trace = plan_trace(record, ctxs[record.cell])
                        pending.append((record.cell, record.task_id, record.trial, trace))
                due = time.monotonic() - oldest >= BATCH_WAIT_S
                if pending and (len(pending) >= BATCH_TRIALS or due or last_look):
                    write_spans([p[3] for p in pending], experiment_id, client)
                    outbox.put(("written", [(c, t, k, p.mlflow_id) for c, t, k, p in pending]))
                    pending = []
                if not data and os.getppid() != parent_pid:
                    return  # the run was killed: nobody is left to link or read these traces
                if not data and last_look:
                    break
                if not data:
                    time.sleep(POLL_S)
        outbox.put(("ok", None))
    except BaseException as exc:  # reported to the parent, which falls back
        outbox.put(("error", f"{type(exc).__name__}: {exc}"))


@dataclass
class StreamedTraces:
    """Traces already written during the run, by cell: their ids and the (task, trial) keys."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    keys: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    error: str | None = None
    """Why streaming stopped short (the helper failed or timed out), else None: then `ids` and
    `keys` hold what it did write, and the rest of the trials it was handed need a trace."""


class TraceStreamer:
    """Writes the traces of the trials appended to `journal` from now on, in a helper process;
    `finish()` returns what was written (the sink writes the traces of any other trial it was
    handed, should the helper have failed)."""

    def __init__(
        self,
        tracking_uri: str,
        experiment_id: str,
        contexts: dict[str, dict[str, Any]],
        *,
        journal: Path,
        sample: float,
        seed: int,
    ) -> None:
        # trials already in the journal (a resumed run) are not this helper's: the sink
        # writes their traces at the end
        offset = journal.stat().st_size if journal.exists() else 0
        ctx: Any = mp.get_context(_start_method())
        # a flag in shared memory, not an Event: setting an Event waits for its waiters to
        # wake, and a helper killed while waiting (out of memory) never does
        self._finished: Any = ctx.RawValue("b", 0)
        self._outbox: Any = ctx.Queue()
        args = (
            tracking_uri, experiment_id, contexts, str(journal), offset, seed, sample, os.getpid()
        )  # fmt: skip
        self._process = ctx.Process(
            target=_worker,
            args=(*args, self._finished, self._outbox),
            name="roibench-traces",
            daemon=True,
        )
        self._process.start()
        self.sample = sample
        self.seed = seed
        self.keys: dict[str, set[tuple[str, int]]] = {cell: set() for cell in contexts}
        self._result: StreamedTraces | None = None  # set by finish() or close()

    @property
    def pid(self) -> int | None:
        """The helper process's id."""
        return self._process.pid

    def submit(self, record: TrialRecord) -> None:
        """Note a finished trial, once it is in the journal: the helper reads it from there,
        and if it is sampled its trace is the helper's to write (not the sink's)."""
        keys = self.keys.get(record.cell)
        if keys is not None and trace_sampled(self.seed, record.task_id, record.trial, self.sample):
            keys.add((record.task_id, record.trial))

    def finish(self, timeout_s: float = 600.0) -> StreamedTraces:
        """Wait until every trial in the journal is traced, or the helper fails or times out
        (see `StreamedTraces.error`). Once; later calls return the same. Call it after the
        last trial was written."""
        if self._result is not None:
            return self._result
        self._finished.value = 1
        written = StreamedTraces(
            ids={cell: [] for cell in self.keys}, keys={cell: set() for cell in self.keys}
        )
        error: str | None = "the trace helper did not finish in time"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                wait_s = max(0.0, min(1.0, deadline - time.monotonic()))
                kind, payload = self._outbox.get(timeout=wait_s)
            except queue.Empty:
                if not self._process.is_alive() and self._outbox.empty():
                    error = f"the trace helper died (exit code {self._process.exitcode})"
                    break
                if time.monotonic() >= deadline:
                    break
                continue
            if kind == "written":
                for cell, task_id, trial, trace_id in payload:
                    written.ids[cell].append(trace_id)
                    written.keys[cell].add((task_id, trial))
                continue
            error = None if kind == "ok" else str(payload)
            break
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)
        written.error = error
        self._result = written
        return written

    def close(self) -> None:
        """Stop the helper without waiting for it (after logging gave up)."""
        if self._result is None:
            self._result = StreamedTraces(error="the trace helper was stopped")
            self._process.kill()
            self._process.join(timeout=10)
