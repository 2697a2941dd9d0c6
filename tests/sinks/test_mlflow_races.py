"""Runs that log to one experiment at once (two suites finishing together, parallel jobs):
MLflow's store gets-or-creates experiments and datasets in two steps, not atomically, and the
loser of that race gets an error. roibench's logging must come through it, with one
experiment and one dataset row, every run holding its input."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mlflow.tracking import MlflowClient
from mlflow_server_fixture import MlflowServer

REPO = Path(__file__).resolve().parents[2]
RACERS = 6
ROUNDS = 8
"""Unfixed, the race lost at least once in 10 rounds of 6 on this machine (measured: 7 of 60
calls failed); each round releases its racers at one barrier."""

T = TypeVar("T")


def _race(calls: list[Callable[[], T]]) -> tuple[list[T], list[BaseException]]:
    """Run the calls in threads released together; their results and what they raised."""
    barrier = threading.Barrier(len(calls))
    results: list[T] = []
    errors: list[BaseException] = []

    def go(call: Callable[[], T]) -> None:
        barrier.wait()
        try:
            results.append(call())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_racing_runs_share_one_new_experiment(mlflow_server: MlflowServer) -> None:
    from roibench.sinks.mlflow.runs import experiment_id_for

    client = MlflowClient(mlflow_server.url)
    for round_ in range(ROUNDS):
        name = f"race-experiment-{round_}"
        ids, errors = _race([lambda n=name: experiment_id_for(client, n)] * RACERS)
        assert errors == []
        assert len(ids) == RACERS and len(set(ids)) == 1
        found = client.search_experiments(filter_string=f"name = '{name}'")
        assert [e.experiment_id for e in found] == ids[:1]


def test_racing_runs_log_one_dataset(mlflow_server: MlflowServer) -> None:
    from roibench.config.suite import load_suite
    from roibench.run.plan import spec_for
    from roibench.run.runner import plan_suite
    from roibench.sinks.mlflow.runs import experiment_id_for, log_dataset_input

    cell = spec_for(plan_suite(load_suite(REPO / "evals/quickstart.toml")), "race").cells[0]
    client = MlflowClient(mlflow_server.url)
    for round_ in range(ROUNDS):
        experiment_id = experiment_id_for(client, f"race-dataset-{round_}")
        runs = [client.create_run(experiment_id).info.run_id for _ in range(RACERS)]
        _, errors = _race([lambda r=r: log_dataset_input(client, r, cell) for r in runs])
        assert errors == []
        names = set()
        for run_id in runs:
            logged = client.get_run(run_id).inputs
            assert logged is not None
            inputs = logged.dataset_inputs
            assert [i.dataset.digest for i in inputs] == [cell.workflow.dataset_short_hash]
            tags = {t.key: t.value for t in inputs[0].tags}
            assert tags["roibench.sha256"] == cell.workflow.dataset_sha256
            names.add(inputs[0].dataset.name)
        assert names == {f"{cell.workflow.name}:{Path(cell.workflow.dataset).name}"}
        with sqlite3.connect(mlflow_server.root / "mlflow.db") as db:
            rows = db.execute(
                "SELECT COUNT(*) FROM datasets WHERE experiment_id = ?", (int(experiment_id),)
            ).fetchone()
        assert rows == (1,)
