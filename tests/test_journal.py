"""Journal durability: torn tails, lost attempts, resume keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from roibench.errors import InputError
from roibench.journal import Journal, read_journal
from roibench.outcomes import Outcome
from roibench.records import CallRecord, TrialRecord
from roibench.usage import Usage

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
    path = tmp_path / "j.jsonl"
    j = Journal(path, header={"suite": "s"})
    j.append(trial("t1", 0))
    j.close()
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
