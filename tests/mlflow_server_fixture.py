"""A real `mlflow server` on 127.0.0.1 for the session, and suites run against it with the real
`roibench` command line. Imported by conftest.py (fixtures `mlflow_server`, `finished_runs`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECRET = "sk-roibench-test-SECRET-0f9e8d7c6b5a"
"""Set as every provider key while the suites run; must appear nowhere in MLflow."""
EXPERIMENT = "issue6-e2e"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class MlflowServer:
    """A running tracking server."""

    url: str
    root: Path
    log: Path
    pid: int = 0
    """The server's process (and process group) id."""


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"mlflow server not healthy after {timeout}s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def running_mlflow_server(root: Path, port: int | None = None) -> Iterator[MlflowServer]:
    """`mlflow server` with a sqlite backend and served artifacts under `root` (the same root
    again restarts a server on the same store)."""
    port = port or free_port()
    log = root / "server.log"
    cmd = [
        str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    # no background job runner (scorer jobs): six fewer processes on a 2-core machine
    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, cwd=root, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log, timeout=90)
        yield MlflowServer(url=url, root=root, log=log, pid=proc.pid)
    finally:
        stop_server(proc.pid)
        proc.wait(timeout=10)


def stop_server(pid: int, sig: int = signal.SIGTERM) -> None:
    """Stop a server's whole process group (`sig`, then SIGKILL if it lingers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """`mlflow server` with a sqlite backend and served artifacts in a temp dir."""
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@dataclass(frozen=True)
class FinishedRuns:
    """Two suite invocations logged to the server: full tracing, and a 50% trace sample."""

    server: MlflowServer
    experiment_id: str
    full: str
    """Parent run id of `--limit 4 --trials 2` (every trial traced)."""
    sampled: str
    """Parent run id of `--limit 2 --trials 2 --trace-sample 0.5`."""
    out: Path
    """Journals folder."""


def roibench_env(url: str) -> dict[str, str]:
    """Environment for `roibench` against the server, with provider keys set to SECRET."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROIBENCH_TRACE")}
    env.update(
        MLFLOW_TRACKING_URI=url,
        MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT="true",
        OPENAI_API_KEY=SECRET,
        DEEPSEEK_API_KEY=SECRET,
        COLUMNS="200",
    )
    return env


def start_suite(url: str, out: Path, *args: str) -> subprocess.Popen[str]:
    """Start `roibench run evals/quickstart.toml ARGS` against the server."""
    return subprocess.Popen(
        [str(BIN / "roibench"), "run", str(REPO / "evals" / "quickstart.toml"),
         "--experiment", EXPERIMENT, "--out", str(out), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=roibench_env(url),
        cwd=out,
    )  # fmt: skip


@pytest.fixture(scope="session")
def finished_runs(
    mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> FinishedRuns:
    """Run two small quickstart suites with the real CLI against the real server."""
    import mlflow

    out = tmp_path_factory.mktemp("roibench-runs")
    client = mlflow.MlflowClient(mlflow_server.url)
    # both at once (each waits on the simulator or the server most of the time), each with
    # its own journal folder: journal paths are stamped to the second
    (out / "full").mkdir()
    (out / "sampled").mkdir()
    procs = {
        "1.0": start_suite(mlflow_server.url, out / "full", "--limit", "4", "--trials", "2"),
        "0.5": start_suite(
            mlflow_server.url, out / "sampled", "--limit", "2", "--trials", "2",
            "--trace-sample", "0.5",
        ),
    }  # fmt: skip
    for proc in procs.values():
        output, _ = proc.communicate(timeout=240)
        # a logging failure still exits 0 (the journal has it all): every test below would
        # fail on its consequences, so say here what the run printed and what the server did
        assert proc.returncode == 0 and "roibench log" not in output, (
            output[-4000:] + "\n--- server log ---\n" + mlflow_server.log.read_text()[-4000:]
        )
    # both created the experiment, and logged the same dataset into it, at about the same time
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    experiment_id = experiment.experiment_id
    parents = {
        r.data.params["trace_sample"]: r.info.run_id
        for r in client.search_runs([experiment_id], "tags.`roibench.role` = 'suite'")
    }
    assert set(parents) == set(procs), parents
    return FinishedRuns(mlflow_server, experiment_id, parents["1.0"], parents["0.5"], out)


COMPARISON_EXPERIMENT = "issue17-comparisons"
"""Where the paired comparison run goes (apart: the UI test counts issue6-e2e's runs)."""


@dataclass(frozen=True)
class ComparisonRun:
    """`roibench compare --paired --mlflow` of two cells of the full run, on the server."""

    runs: FinishedRuns
    run_id: str
    a: str
    b: str


@pytest.fixture(scope="session")
def comparison_run(finished_runs: FinishedRuns) -> ComparisonRun:
    """budget against frontier in the full run, by run id (the journal artifact is read)."""
    a, b = "refunds/react/sim/frontier", "refunds/react/sim/budget"
    out = subprocess.run(
        [str(BIN / "roibench"), "compare", "--paired", f"{finished_runs.full}#{a}",
         f"{finished_runs.full}#{b}", "--mlflow", "--experiment", COMPARISON_EXPERIMENT],
        capture_output=True, text=True, env=roibench_env(finished_runs.server.url),
        cwd=finished_runs.out, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-4000:]
    run_id = out.stderr.split("comparison run ")[1].split()[0]
    return ComparisonRun(finished_runs, run_id, a, b)
