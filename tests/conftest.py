"""Shared fixtures: the real simulator on loopback, a temporary MLflow store, shared data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from roibench.config.tasks import load_dataset
from roibench.sim.player import ToolTraits
from roibench.sim.server import SimServer

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """../shared/data beside the checkout (or $ROIBENCH_SHARED_DATA), if present."""
    env = os.environ.get("ROIBENCH_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Published third-party data (provider payloads, τ-bench); never copied into the repo."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent (third-party payloads are not part of the repo)")
    return path


@pytest.fixture(scope="session")
def refunds_tasks():
    """The built-in refunds tasks."""
    return load_dataset(REPO / "datasets" / "refunds" / "tasks.jsonl").tasks


@pytest.fixture
def sim_server(refunds_tasks) -> Iterator[SimServer]:
    """A real simulator HTTP server on 127.0.0.1 in a background thread."""
    from roibench.workflows.refunds import RefundsEnv  # pyright: ignore[reportMissingImports]

    server = SimServer(refunds_tasks, traits=ToolTraits.of(RefundsEnv)).start_in_thread()
    try:
        yield server
    finally:
        server.stop_thread()


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh sqlite MLflow tracking store for the test; returns its URI."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


# A real `mlflow server` and suites logged to it, shared by the MLflow, compare, report and UI
# tests (issue 6). Defined in their own module; imported here so the server starts once.
# Also real llama.cpp servers with the real Gemma 3 270M GGUF, and a recording proxy (issue 16).
from local_fixtures import gemma_proxy, gemma_server, gemma_tools_server  # noqa: E402, F401
from mlflow_server_fixture import comparison_run, finished_runs, mlflow_server  # noqa: E402, F401
