"""Journal durability: torn tails, lost attempts, resume keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from roibench.core.errors import InputError
from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, TrialRecord
from roibench.core.usage import Usage
from roibench.journal.store import Journal, iter_trials, read_header, read_journal, scan_journal

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def call(cost: str) -> CallRecord:
    return CallRecord(
        started_at=NOW,
        latency_s=0.1,
        usage=Usage(input_tokens=10, requests=1),
        cost_usd=Decimal(cost),
    )


def trial(task: str, k: int) -> TrialRecord:
    return TrialRecord(
        cell="w/a/m", workflow="w", agent="a", model="m", task_id=task, tier="easy", trial=k,
        seed=1, outcome=Outcome.resolved(), calls=(call("0.001"),), usage=Usage(requests=1),
        cost_usd=Decimal("0.001"), steps=1, started_at=NOW, duration_s=0.2,
    )  # fmt: skip


def journal_of(path: Path, *trials: TrialRecord) -> Path:
    """A closed journal holding a header and `trials`."""
    j = Journal(path, header={"suite": "s"})
    for t in trials:
        j.append(t)
    j.close()
    return path


def test_round_trip_and_lost_calls(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path, header={"suite": "s"})
    j.append_call(("w/a/m", "t1", 0), call("0.001"))
    j.append(trial("t1", 0))
    j.append_call(("w/a/m", "t2", 0), call("0.002"))  # in flight at the "crash"
    j.append_call(("w/a/m", "t2", 0), call("0.003"))
    j.close()
    contents = read_journal(path)
    assert contents.header["suite"] == "s"
    assert contents.done == {("w/a/m", "t1", 0)}
    lost = contents.lost_calls()
    assert list(lost) == [("w/a/m", "t2", 0)]
    assert sum((c.cost_usd or Decimal(0)) for c in lost[("w/a/m", "t2", 0)]) == Decimal("0.005")


def test_torn_tail_is_ignored_then_cut_before_appending(tmp_path: Path) -> None:
    path = journal_of(tmp_path / "j.jsonl", trial("t1", 0))
    with path.open("a") as f:
        f.write('{"kind":"trial","trial":{"cell":"w/a')  # a crash mid-write
    assert len(read_journal(path).trials) == 1
    j = Journal(path)
    j.append(trial("t2", 0))
    j.close()
    lines = path.read_text().splitlines()
    assert all(json.loads(line) for line in lines)
    assert [t.task_id for t in read_journal(path).trials] == ["t1", "t2"]


def test_bad_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"kind":"header"}\n{"kind":"trial","trial":{"cell":1}}\n')
    with pytest.raises(InputError) as info:
        read_journal(path)
    assert info.value.line == 2


def test_secrets_never_reach_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "acme-secret-0123456789")
    path = tmp_path / "j.jsonl"
    j = Journal(path, header={"note": "key is acme-secret-0123456789"})
    t = trial("t1", 0).model_copy(update={"reply": "your key acme-secret-0123456789"})
    j.append(t)
    j.close()
    assert "acme-secret-0123456789" not in path.read_text()


def test_scan_streams_trials_and_keeps_only_unfinished_calls(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path, header={"suite": "s"})
    j.append_call(("w/a/m", "t1", 0), call("0.001"))
    j.append(trial("t1", 0))
    j.append_call(("w/a/m", "t2", 0), call("0.002"))  # lost in a first crash...
    j.append_call(("w/a/m", "t3", 0), call("0.004"))  # ...and this one never re-ran
    j.append_call(("w/a/m", "t2", 0), call("0.001"))  # the re-run's own call
    j.append(trial("t2", 0))
    j.close()
    seen: list[str] = []
    scan = scan_journal(path, on_trial=lambda t: seen.append(t.task_id))
    assert seen == ["t1", "t2"] and scan.trials == 2
    assert scan.header["suite"] == "s"
    assert scan.done == {("w/a/m", "t1", 0), ("w/a/m", "t2", 0)}
    assert list(scan.lost_calls) == [("w/a/m", "t3", 0)]
    assert [c.cost_usd for c in scan.lost_calls[("w/a/m", "t3", 0)]] == [Decimal("0.004")]
    # the whole-journal reader agrees
    contents = read_journal(path)
    assert contents.done == scan.done and contents.lost_calls() == scan.lost_calls
    assert [t.task_id for t in iter_trials(path)] == ["t1", "t2"]
    assert read_header(path)["suite"] == "s"


def test_iter_trials_reads_trial_lines_written_by_hand(tmp_path: Path) -> None:
    """A trial line in spaced JSON (not as `Journal` writes it) is a trial for `iter_trials`
    as it is for `scan_journal`; spaced call lines are not trials."""
    path = journal_of(tmp_path / "j.jsonl", trial("t1", 0))
    spaced = json.dumps({"kind": "trial", "trial": trial("t2", 0).model_dump(mode="json")})
    spaced_call = json.dumps(
        {"kind": "call", "key": ["w/a/m", "t3", 0], "call": call("0.001").model_dump(mode="json")}
    )
    with path.open("a") as f:
        f.write(spaced_call + "\n" + spaced + "\n")
    assert [t.task_id for t in iter_trials(path)] == ["t1", "t2"]
    seen: list[str] = []
    scan_journal(path, on_trial=lambda t: seen.append(t.task_id))
    assert seen == ["t1", "t2"]


def test_iter_trials_is_lazy(tmp_path: Path) -> None:
    path = journal_of(tmp_path / "j.jsonl", trial("t1", 0))
    with path.open("a") as f:
        f.write('{"kind":"trial","trial":{"cell":1}}\n')
    trials = iter_trials(path)
    assert next(trials).task_id == "t1"  # read before the bad line is reached
    with pytest.raises(InputError) as info:
        next(trials)
    assert info.value.line == 3


def test_a_trial_the_caller_rejects_names_its_line(tmp_path: Path) -> None:
    path = journal_of(tmp_path / "j.jsonl", trial("t1", 0), trial("t2", 0))

    def only_t1(t: TrialRecord) -> None:
        if t.task_id != "t1":
            raise ValueError(f"unexpected task {t.task_id}")

    with pytest.raises(InputError) as info:
        scan_journal(path, on_trial=only_t1)
    assert info.value.line == 3 and "unexpected task t2" in str(info.value)


def test_a_journal_without_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"kind":"trial","trial":' + trial("t1", 0).model_dump_json() + "}\n")
    for reader in (read_header, scan_journal, read_journal):
        with pytest.raises(InputError, match="no header"):
            reader(path)


def test_trial_from_line_reads_trial_lines_and_skips_the_others(tmp_path: Path) -> None:
    from roibench.journal.store import trial_from_line

    path = tmp_path / "j.jsonl"
    j = Journal(path, header={"suite": "s"})
    j.append_call(("w/a/m", "t1", 0), call("0.001"))
    j.append(trial("t1", 3))
    j.close()
    header, call_line, trial_line = path.read_bytes().splitlines()
    assert trial_from_line(header) is None
    assert trial_from_line(call_line) is None
    record = trial_from_line(trial_line)
    assert record is not None and (record.task_id, record.trial) == ("t1", 3)
    with pytest.raises(ValueError):  # a torn or edited trial line is an error, not skipped
        trial_from_line(trial_line[:-10])


def _fsyncs_seeing(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the journal's fsyncs: each records how many lines the file held when it ran."""
    import roibench.journal.store as store

    seen: list[int] = []
    real = store.os.fsync

    def fsync(fd: int) -> None:
        seen.append(len(path.read_text(encoding="utf-8").splitlines()))
        real(fd)

    monkeypatch.setattr(store.os, "fsync", fsync)
    return seen


def test_append_soon_writes_at_once_and_drain_waits_for_the_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    path = tmp_path / "j.jsonl"
    j = Journal(path, header={"suite": "s"})  # header: line 1, fsynced inline
    seen = _fsyncs_seeing(path, monkeypatch)

    async def run() -> list[int]:
        for k in range(5):
            j.append_soon(trial("t", k))
        # written and flushed before any fsync: a reader (the MLflow helper) sees all five
        visible = len(path.read_text(encoding="utf-8").splitlines())
        assert visible == 6 and seen == []
        await j.drain()
        return list(seen)

    after_drain = asyncio.run(run())
    # group commit: the first fsync already covers the five lines written in one go, and the
    # last one before drain returned saw every line
    assert after_drain and after_drain[0] == 6 and after_drain[-1] == 6
    assert len(after_drain) < 5
    j.close()
    assert [t.trial for t in iter_trials(path)] == [0, 1, 2, 3, 4]


def test_close_fsyncs_what_no_drain_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    path = tmp_path / "j.jsonl"
    j = Journal(path, header={"suite": "s"})
    seen = _fsyncs_seeing(path, monkeypatch)

    async def run() -> None:
        j.append_soon(trial("t", 0))
        j.append_soon(trial("t", 1))
        assert j._sync_task is not None  # pyright: ignore[reportPrivateUsage]
        j._sync_task.cancel()  # pyright: ignore[reportPrivateUsage]  # e.g. Ctrl-C mid-run

    asyncio.run(run())
    assert seen == []  # the background fsync never ran
    j.close()
    assert seen == [3]  # close did it, with both trial lines written
    j.close()  # closing twice is harmless
    assert seen == [3]
