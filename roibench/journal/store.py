"""The journal: append-only JSONL, the source of truth of a run. MLflow and reports are
rebuilt from it (`roibench log`, `roibench reprice`).

Lines: one `header` (suite text, seed, overrides); a `call` line per LLM request as it happens
(flushed, so a crash leaves the trail of an in-flight trial's spend); a `trial` line per graded
trial, flushed and fsynced. `--resume` skips every trial with a `trial` line and attaches the
calls of lost in-flight attempts to the trial that re-runs them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roibench.core.errors import InputError
from roibench.core.records import CallRecord, TrialRecord
from roibench.core.secrets import redact_json

TrialKey = tuple[str, str, int]
"""(cell label, task id, trial index k)."""


def trial_key(record: TrialRecord) -> TrialKey:
    """The key of a trial record."""
    return (record.cell, record.task_id, record.trial)


class Journal:
    """Appends to a JSONL journal. Every line is written and flushed at once (a killed process
    loses nothing written); trial lines are also fsynced (a crashed machine loses nothing
    either) — `append` inline, `append_soon` in the background: one fsync in a thread covering
    every line written before it (group commit), so neither a slow disk nor the fsync's round
    trip through the event loop holds up the next trial. `drain` waits for it, and `close`
    fsyncs whatever is left."""

    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        _truncate_torn_tail(path)
        new = not path.exists() or path.stat().st_size == 0
        self._file = path.open("a", encoding="utf-8")
        self._written = 0  # lines written
        self._synced = 0  # lines known to be on disk
        self._sync_task: asyncio.Task[None] | None = None
        if new and header is not None:
            self._write_line(json.dumps({"kind": "header", **header}, default=str), sync=True)

    def _write_line(self, line: str, *, sync: bool) -> None:
        # masked value by value: the JSON stays valid however short a key is
        self._file.write(redact_json(line) + "\n")
        self._file.flush()
        self._written += 1
        if sync:
            self._sync_now()

    def _sync_now(self) -> None:
        os.fsync(self._file.fileno())
        self._synced = self._written

    def append(self, trial: TrialRecord) -> None:
        """Write one trial durably (fsynced before returning)."""
        self._write_line('{"kind":"trial","trial":' + trial.model_dump_json() + "}", sync=True)

    def append_soon(self, trial: TrialRecord) -> None:
        """Write one trial now (flushed) and fsync it in the background, with whatever else
        is written meanwhile: the caller goes on at once. `drain` waits until it is on disk."""
        self._write_line('{"kind":"trial","trial":' + trial.model_dump_json() + "}", sync=False)
        self._sync_in_background()

    async def drain(self) -> None:
        """Return once every line written so far is fsynced (raises what a failed fsync
        raised)."""
        while self._synced < self._written:
            await asyncio.shield(self._sync_in_background())

    def _sync_in_background(self) -> asyncio.Task[None]:
        """The running background fsync, or a new one."""
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.create_task(self._sync())
        return self._sync_task

    async def _sync(self) -> None:
        # one pass per batch: lines written during an fsync get the next one
        while self._synced < self._written:
            upto = self._written
            await asyncio.to_thread(os.fsync, self._file.fileno())
            self._synced = max(self._synced, upto)

    def append_call(self, key: TrialKey, call: CallRecord) -> None:
        """Write one call of an in-flight trial (flushed, not fsynced: survives a killed
        process, which is what resume has to handle)."""
        self._write_line(
            '{"kind":"call","key":'
            + json.dumps(list(key))
            + ',"call":'
            + call.model_dump_json()
            + "}",
            sync=False,
        )

    def append_logged(self, run_id: str, tracking_uri: str) -> None:
        """Record that the run was logged to MLflow as parent run `run_id` (fsynced). The
        last such line names the run's one parent: a later logging replaces it."""
        line = json.dumps({"kind": "logged", "mlflow_run_id": run_id, "tracking_uri": tracking_uri})
        self._write_line(line, sync=True)

    def close(self) -> None:
        """Fsync what is not yet on disk and close the file."""
        if self._file.closed:
            return
        if self._synced < self._written:
            self._sync_now()
        self._file.close()


def _truncate_torn_tail(path: Path) -> None:
    """Cut a partial last line left by a crash, so appended lines stay valid JSON."""
    if not path.exists():
        return
    with path.open("rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        data = path.read_bytes()
        f.truncate(data.rfind(b"\n") + 1)


@dataclass
class JournalContents:
    """What a journal holds, all of it in memory (see `scan_journal` for long runs)."""

    header: dict[str, Any]
    trials: list[TrialRecord] = field(default_factory=list)
    calls: dict[TrialKey, list[CallRecord]] = field(default_factory=dict)

    @property
    def done(self) -> set[TrialKey]:
        """Keys of finished trials."""
        return {trial_key(t) for t in self.trials}

    def lost_calls(self) -> dict[TrialKey, list[CallRecord]]:
        """Calls of attempts that never finished: each trial's calls beyond what its finished
        record holds (a trial can be lost more than once across crashes)."""
        done = self.done
        return {k: v for k, v in self.calls.items() if k not in done}


@dataclass
class JournalScan:
    """What resuming a journal needs, without its trials: the header, the keys of finished
    trials and the calls of attempts that never finished."""

    header: dict[str, Any]
    done: set[TrialKey] = field(default_factory=set)
    lost_calls: dict[TrialKey, list[CallRecord]] = field(default_factory=dict)
    trials: int = 0
    """Finished trials."""
    mlflow_run_id: str | None = None
    """The parent run the journal was last logged as, if any."""


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) for every complete line."""
    if not path.is_file():
        raise InputError("journal not found", file=path)
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.endswith("\n"):
                return  # torn write at a crash
            yield line_no, line


_TRIAL_PREFIX = '{"kind":"trial","trial":'
_TRIAL_PREFIX_BYTES = _TRIAL_PREFIX.encode()


def trial_from_line(line: str | bytes) -> TrialRecord | None:
    """The trial record of a journal line as `Journal` writes it (without its newline), or
    None for any other line. Raises pydantic's ValidationError (a ValueError) for a malformed
    trial line. The JSON is validated directly, without an intermediate dict."""
    if isinstance(line, bytes):
        if not line.startswith(_TRIAL_PREFIX_BYTES):  # call lines stay undecoded
            return None
        line = line.decode()
    if not line.startswith(_TRIAL_PREFIX):
        return None
    return TrialRecord.model_validate_json(line[len(_TRIAL_PREFIX) : -1])


def _parse_line(path: Path, line_no: int, line: str) -> tuple[str, Any]:
    """('header', dict) | ('trial', TrialRecord) | ('call', (key, CallRecord)); errors name
    the line."""
    try:
        record = trial_from_line(line.rstrip("\n"))
        if record is not None:
            return "trial", record
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise InputError("not valid JSON", file=path, line=line_no) from None
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if kind == "header":
            return "header", obj
        if kind == "logged":
            return "logged", obj
        if kind == "trial":
            return "trial", TrialRecord.model_validate(obj["trial"])
        if kind == "call":
            key = obj["key"]
            return "call", (
                (str(key[0]), str(key[1]), int(key[2])),
                CallRecord.model_validate(obj["call"]),
            )
        raise ValueError(f"unknown line kind {kind!r}")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"bad journal line: {exc}", file=path, line=line_no) from None


def read_header(path: Path) -> dict[str, Any]:
    """The journal's header line."""
    for line_no, line in iter_lines(path):
        kind, value = _parse_line(path, line_no, line)
        if kind == "header":
            return value
        break
    raise InputError("journal has no header line", file=path, line=1)


_CALL_PREFIX = '{"kind":"call",'
"""How `Journal` starts a call line: `iter_trials` skips those undecoded."""


def iter_trials(path: Path) -> Iterator[TrialRecord]:
    """The journal's trial records in order, one at a time (memory stays flat). Every line
    but the call lines `Journal` writes is parsed, so a trial line written otherwise (by hand,
    spaced JSON) is read as `scan_journal` reads it."""
    for line_no, line in iter_lines(path):
        if not line.startswith(_CALL_PREFIX):
            kind, value = _parse_line(path, line_no, line)
            if kind == "trial":
                yield value


def scan_journal(path: Path, on_trial: Callable[[TrialRecord], None] | None = None) -> JournalScan:
    """Read a journal once, line by line, handing each trial to `on_trial` and keeping only
    the keys of finished trials and the calls of unfinished ones; errors (a ValueError from
    `on_trial` included) name the line."""
    scan: JournalScan | None = None
    pending: dict[TrialKey, list[CallRecord]] = {}
    for line_no, line in iter_lines(path):
        kind, value = _parse_line(path, line_no, line)
        if kind == "header":
            scan = JournalScan(header=value)
            continue
        if scan is None:
            raise InputError("journal has no header line", file=path, line=1)
        if kind == "logged":
            scan.mlflow_run_id = str(value.get("mlflow_run_id") or "") or None
            continue
        if kind == "trial":
            key = trial_key(value)
            scan.done.add(key)
            scan.trials += 1
            pending.pop(key, None)  # its calls are in the record (lost ones as lost_calls)
            if on_trial is not None:
                try:
                    on_trial(value)
                except ValueError as exc:  # the caller rejects the trial: name its line
                    raise InputError(str(exc), file=path, line=line_no) from None
        else:
            key, call = value
            if key not in scan.done:
                pending.setdefault(key, []).append(call)
    if scan is None:
        raise InputError("journal has no header line", file=path, line=1)
    scan.lost_calls = pending
    return scan


def read_journal(path: Path) -> JournalContents:
    """Everything in a journal, validated and held in memory; errors name the line."""
    contents: JournalContents | None = None
    for line_no, line in iter_lines(path):
        kind, value = _parse_line(path, line_no, line)
        if kind == "header":
            contents = JournalContents(header=value)
        elif contents is None:
            raise InputError("journal has no header line", file=path, line=1)
        elif kind == "trial":
            contents.trials.append(value)
        elif kind == "logged":
            continue
        else:
            key, call = value
            contents.calls.setdefault(key, []).append(call)
    if contents is None:
        raise InputError("journal has no header line", file=path, line=1)
    return contents
