"""RunSpec, the journal's header: it round-trips, an unknown schema is refused, and a journal
written before RunSpec (schema 1, by roibench at e32e737: tests/fixtures/journals/) is read
through its upgrade and re-priced exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roibench.cli.reprice import reprice_journal
from roibench.config.suite import load_suite
from roibench.core.errors import InputError
from roibench.core.records import CallRole
from roibench.journal.spec import SCHEMA_VERSION, header_line, spec_from_header
from roibench.journal.store import Journal, read_header
from roibench.run.plan import read_run_spec, spec_for, upgrade_v1
from roibench.run.runner import plan_suite

REPO = Path(__file__).resolve().parents[2]
V1 = REPO / "tests" / "fixtures" / "journals" / "v1-quickstart.jsonl"


def test_the_header_round_trips_through_the_journal(tmp_path: Path) -> None:
    spec = spec_for(plan_suite(load_suite(REPO / "evals" / "quickstart.toml"), limit=3))
    path = tmp_path / "journal.jsonl"
    Journal(path, header=header_line(spec)).close()
    again = read_run_spec(path)
    assert again == spec
    assert again.schema_version == SCHEMA_VERSION
    assert [c.label for c in again.cells] == [
        f"refunds/react/sim/{p}" for p in ("frontier", "balanced", "budget")
    ]
    cell = again.cells[0]
    assert len(cell.workflow.tasks) == 3 and cell.workflow.code_sha256
    # planner and verifier calls are answered (and priced) by the cell's own model
    assert cell.price_for(CallRole.PLANNER) == cell.price_for(CallRole.AGENT) == cell.price


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"kind": "header", "schema_version": 99, "spec": {}}) + "\n")
    with pytest.raises(InputError, match="schema version 99 is unknown") as info:
        read_run_spec(path)
    assert info.value.file == str(path) and info.value.line == 1


def test_a_broken_spec_names_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"kind": "header", "schema_version": 2, "spec": {"x": 1}}) + "\n")
    with pytest.raises(InputError, match="bad RunSpec header"):
        read_run_spec(path)


def test_version_1_needs_its_upgrade_function() -> None:
    with pytest.raises(InputError, match="needs an upgrade"):
        spec_from_header(read_header(V1), V1)


def test_a_version_1_journal_is_upgraded_with_its_recorded_figures() -> None:
    header = read_header(V1)
    assert "schema_version" not in header and "economics" in header
    spec = upgrade_v1(header, V1)
    assert spec.upgraded_from == 1
    assert spec.run_name == header["run_name"] and spec.trials == header["trials"] == 2
    recorded = header["economics"]["cells"]
    assert [c.label for c in spec.cells] == list(recorded)
    for cell in spec.cells:
        was = recorded[cell.label]
        assert cell.price is not None and cell.price.snapshot == was["price"]
        assert cell.workflow.value_model.model_dump(mode="json") == was["value_model"]
        assert list(cell.workflow.write_tools) == was["write_tools"]


def test_a_version_1_journal_reprices_to_its_own_figures() -> None:
    result = reprice_journal(V1)
    assert len(result.cells) == 3
    for cell in result.cells:
        assert cell.mismatched_calls == 0
        assert cell.repriced.metrics == cell.original.metrics
        assert cell.original.metrics["trials"] == 4 * 2
