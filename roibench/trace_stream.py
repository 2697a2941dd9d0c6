"""Streaming traces to MLflow from a separate process while the trials run.

Writing a trace costs the tracking store several milliseconds; done after the run, a suite
that traces every trial spends a large share of its wall time there. The runner's own process
is the busy one (its event loop drives every trial), so traces are handed, as each trial
finishes, to a helper process that builds and logs them in batches on another core. At the
end the sink only links the streamed traces to their cell runs. Any failure in the helper
(an old server, a file store without span logging) leaves the traces to the sink's own
end-of-run path: nothing is lost, only the speed-up.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import time
from dataclasses import dataclass, field
from typing import Any

from roibench.records import TrialRecord
from roibench.tracing import trace_sampled

BATCH_TRIALS = 100
BATCH_WAIT_S = 0.5
_DONE = "__done__"


def _worker(
    tracking_uri: str,
    experiment_id: str,
    contexts: dict[str, dict[str, Any]],
    inbox: Any,
    outbox: Any,
) -> None:
    """Helper process: receive trial JSON, log traces in batches, report ids per cell."""
    try:
        from mlflow.tracking import MlflowClient

        from roibench.tracing import TraceContext, plan_trace, write_spans

        client = MlflowClient(tracking_uri=tracking_uri)
        ctxs = {
            cell: TraceContext(experiment_id=experiment_id, run_id="", cell=cell, **fields)
            for cell, fields in contexts.items()
        }
        ids: dict[str, list[str]] = {cell: [] for cell in contexts}
        pending: list[tuple[str, str]] = []
        done = False
        while not done:
            deadline = time.monotonic() + BATCH_WAIT_S
            while len(pending) < BATCH_TRIALS:
                try:
                    item = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item == _DONE:
                    done = True
                    break
                pending.append(item)
            if not pending:
                continue
            plans = []
            for cell, raw in pending:
                plan = plan_trace(TrialRecord.model_validate_json(raw), ctxs[cell])
                plans.append(plan)
                ids[cell].append(plan.mlflow_id)
            write_spans(plans, experiment_id, client)
            pending = []
        outbox.put(("ok", ids))
    except BaseException as exc:  # reported to the parent, which falls back
        outbox.put(("error", f"{type(exc).__name__}: {exc}"))


@dataclass
class StreamedTraces:
    """Traces already written during the run, by cell: their ids and the (task, trial) keys."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    keys: dict[str, set[tuple[str, int]]] = field(default_factory=dict)


class TraceStreamer:
    """Hands finished trials to the helper process; `finish()` returns what was written, or
    None when streaming failed (the sink then writes those traces itself)."""

    def __init__(
        self,
        tracking_uri: str,
        experiment_id: str,
        contexts: dict[str, dict[str, Any]],
        *,
        sample: float,
        seed: int,
    ) -> None:
        ctx = mp.get_context("spawn")  # a fresh interpreter: no forked event loop or locks
        self._inbox: Any = ctx.Queue()
        self._outbox: Any = ctx.Queue()
        self._process = ctx.Process(
            target=_worker,
            args=(tracking_uri, experiment_id, contexts, self._inbox, self._outbox),
            name="roibench-traces",
            daemon=True,
        )
        self._process.start()
        self.sample = sample
        self.seed = seed
        self.keys: dict[str, set[tuple[str, int]]] = {cell: set() for cell in contexts}
        self._finished = False
        self._result: StreamedTraces | None = None

    def submit(self, record: TrialRecord) -> None:
        """Queue a finished trial (only if it is sampled for tracing)."""
        keys = self.keys.get(record.cell)
        if keys is None or not trace_sampled(self.seed, record.task_id, record.trial, self.sample):
            return
        self._inbox.put((record.cell, record.model_dump_json()))
        keys.add((record.task_id, record.trial))

    def finish(self, timeout_s: float = 600.0) -> StreamedTraces | None:
        """Wait for every queued trace to be written (once; later calls return the same)."""
        if self._finished:
            return self._result
        self._finished = True
        self._inbox.put(_DONE)
        status: str = "error"
        payload: Any = None
        with contextlib.suppress(queue.Empty):
            status, payload = self._outbox.get(timeout=timeout_s)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
        if status == "ok":
            self._result = StreamedTraces(ids=payload, keys=self.keys)
        return self._result

    def close(self) -> None:
        """Stop the helper without waiting for its queue (after logging gave up)."""
        if not self._finished:
            self._finished = True
            self._process.kill()
            self._process.join(timeout=10)
