"""Dataset loading: bad rows name the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roibench.config.tasks import load_dataset
from roibench.core.errors import InputError

ROW = {
    "id": "t1",
    "tier": "easy",
    "prompt": "hello",
    "initial_state": {},
    "expected": {},
    "reference_actions": [],
    "reference_reply": "hi",
}


def write_rows(tmp_path: Path, rows: list[object]) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_loads_and_hashes(tmp_path: Path) -> None:
    import hashlib

    path = write_rows(tmp_path, [ROW, {**ROW, "id": "t2", "prompt": "other"}])
    ds = load_dataset(path)
    assert [t.id for t in ds.tasks] == ["t1", "t2"]
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_tier_names_line_and_field(tmp_path: Path) -> None:
    path = write_rows(tmp_path, [ROW, {**ROW, "id": "t2", "tier": "impossible"}])
    with pytest.raises(InputError) as info:
        load_dataset(path)
    assert (info.value.line, info.value.field) == (2, "tier")


def test_missing_field(tmp_path: Path) -> None:
    row = dict(ROW)
    del row["expected"]
    path = write_rows(tmp_path, [row])
    with pytest.raises(InputError) as info:
        load_dataset(path)
    assert (info.value.line, info.value.field) == (1, "expected")


def test_unknown_field(tmp_path: Path) -> None:
    path = write_rows(tmp_path, [ROW, ROW | {"id": "t9", "colour": "red"}])
    with pytest.raises(InputError) as info:
        load_dataset(path)
    assert (info.value.line, info.value.field) == (2, "colour")


def test_bad_json_line(tmp_path: Path) -> None:
    path = write_rows(tmp_path, [ROW, "{not json"])
    with pytest.raises(InputError, match="not valid JSON") as info:
        load_dataset(path)
    assert info.value.line == 2


def test_duplicate_ids(tmp_path: Path) -> None:
    path = write_rows(tmp_path, [ROW, ROW])
    with pytest.raises(InputError, match="duplicate task id") as info:
        load_dataset(path)
    assert info.value.line == 2


def test_workflow_validation_error_gets_the_line(tmp_path: Path) -> None:
    path = write_rows(tmp_path, [ROW, {**ROW, "id": "t2"}])

    def validate(task: object) -> None:
        if getattr(task, "id", "") == "t2":
            raise ValueError("initial_state lacks 'orders'")

    with pytest.raises(InputError, match="lacks 'orders'") as info:
        load_dataset(path, validate)
    assert info.value.line == 2


def test_empty_dataset(tmp_path: Path) -> None:
    path = write_rows(tmp_path, [""])
    with pytest.raises(InputError, match="no tasks"):
        load_dataset(path)


def test_stratified_sample_keeps_the_tier_mix() -> None:
    from roibench.config.tasks import Task, stratified_sample

    def t(i: int, tier: str) -> Task:
        fields = {"initial_state": {}, "expected": {}, "reference_actions": [],
                  "reference_reply": "r"}  # fmt: skip
        return Task.model_validate({"id": f"{tier}-{i}", "tier": tier, "prompt": "p", **fields})

    # easy first, as the datasets are: 6 easy, 3 medium, 1 hard
    tasks = [t(i, "easy") for i in range(6)] + [t(i, "medium") for i in range(3)] + [t(0, "hard")]
    # n = 5: exact shares 3, 1.5, 0.5 -> 3, 1, 0 and one more by largest remainder; medium and
    # hard tie at 0.5, medium comes first
    picked = stratified_sample(tasks, 5)
    assert [x.id for x in picked] == ["easy-0", "easy-1", "easy-2", "medium-0", "medium-1"]
    # n = 4: shares 2.4, 1.2, 0.4 -> 2, 1, 0 and the hard tier's 0.4 is the largest remainder
    assert [x.id for x in stratified_sample(tasks, 4)] == ["easy-0", "easy-1", "medium-0", "hard-0"]
    assert stratified_sample(tasks, 10) == tuple(tasks)
    assert stratified_sample(tasks, 50) == tuple(tasks)
    assert len(stratified_sample(tasks, 1)) == 1 and stratified_sample(tasks, 1)[0].id == "easy-0"
