"""The cells' tables are what `mlflow.log_table` would have logged: the same rows are logged
both ways into two runs of one store, and the artifacts' bytes and the runs' table tag are
compared (the MLflow UI finds and reads the tables by them)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS
from test_bulk_traces import trials

from roibench.sinks.mlflow.runs import call_rows, log_tables, trial_row


def _artifact(client: MlflowClient, run_id: str, name: str, dst: Path) -> bytes:
    return Path(client.download_artifacts(run_id, name, str(dst / run_id))).read_bytes()


@pytest.mark.parametrize("empty", [False, True], ids=["rows", "no-rows"])
def test_tables_are_what_log_table_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty: bool
) -> None:
    monkeypatch.chdir(tmp_path)  # the store's artifacts go under ./mlruns
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.create_experiment("tables")
    records = [] if empty else trials()
    tables = {
        "trials.json": [trial_row(t) for t in records],
        "calls.json": [row for t in records for row in call_rows(t)],
    }
    if not empty:
        assert len(tables["calls.json"]) > len(tables["trials.json"]) > 1
    theirs = client.create_run(experiment_id).info.run_id
    for name, rows in tables.items():
        client.log_table(theirs, pd.DataFrame(rows), name)
    ours = client.create_run(experiment_id).info.run_id
    log_tables(client, ours, tables)

    for name in tables:
        assert _artifact(client, ours, name, tmp_path) == _artifact(client, theirs, name, tmp_path)
    assert {a.path for a in client.list_artifacts(ours)} == set(tables)
    tags = {r: client.get_run(r).data.tags[MLFLOW_LOGGED_ARTIFACTS] for r in (ours, theirs)}
    assert tags[ours] == tags[theirs]
    if not empty:
        loaded = client.load_table(experiment_id, "calls.json", run_ids=[ours])
        assert len(loaded) == len(tables["calls.json"])
