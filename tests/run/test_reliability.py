"""Reliability, proven through the real HTTP simulator: faults, resume after SIGKILL, the spend
cap, the response cache, billing stops, secrets, an unreachable MLflow."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from roibench.sim.server import SimServer

REPO = Path(__file__).resolve().parents[2]
PRICE = """
[models.price]
input_per_mtok = 1.0
cache_read_per_mtok = 0.1
output_per_mtok = 4.0
"""


def suite_text(models: str, *, trials: int = 2, limit: int = 8, concurrency: int = 8) -> str:
    return (
        f'name = "rel"\nseed = 11\ntrials = {trials}\nconcurrency = {concurrency}\n'
        f'agents = ["react"]\n[[workflows]]\nname = "refunds"\nlimit = {limit}\n'
        f"[outcome_pricing]\nprice_usd = 0.99\n{models}"
    )


def sim_model(name: str = "sim/budget", extra: str = "") -> str:
    return f'[[models]]\nname = "{name}"\nprovider = "sim"\n{extra}{PRICE}'


def roibench(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    full_env = dict(os.environ, COLUMNS="200", **(env or {}))
    full_env.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{cwd / 'mlflow.db'}")
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def journal_trials(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        if obj["kind"] == "trial":
            out.append(obj["trial"])
    return out


def only_journal(out_dir: Path) -> Path:
    journals = list(out_dir.rglob("journal.jsonl"))
    assert len(journals) == 1, journals
    return journals[0]


def total_cost(trials: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(t["cost_usd"]) for t in trials), Decimal(0))


def test_fault_mix_run_completes_with_every_trial_accounted(tmp_path: Path) -> None:
    faults = (
        "[models.faults]\nrate_limit = 0.10\nserver_error = 0.05\nslow = 0.02\n"
        "malformed_tool_args = 0.02\nretry_after_s = 0.05\nslow_s = 1.5\n"
    )
    models = sim_model("sim/frontier", "timeout_s = 0.5\nmax_retries = 6\n" + faults)
    (tmp_path / "s.toml").write_text(suite_text(models, trials=3, limit=16, concurrency=16))
    out = roibench("run", "s.toml", "--out", "runs", "--no-mlflow", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    trials = journal_trials(only_journal(tmp_path / "runs"))
    assert len(trials) == 16 * 3
    assert len({(t["task_id"], t["trial"]) for t in trials}) == 48
    calls = [c for t in trials for c in t["calls"]]
    errors = {c["error"] for c in calls if c["error"]}
    assert {"rate_limited", "api_error", "timeout"} <= errors
    assert any(t["invalid_tool_calls"] > 0 for t in trials)
    for t in trials:
        if t["outcome"]["status"] == "error":
            assert t["error_class"] in {"rate_limited", "api_error", "timeout"}
        # every failed attempt is recorded, each retry numbered
        attempts = [c["attempt"] for c in t["calls"] if c["error"]]
        assert all(a >= 0 for a in attempts)


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    models = sim_model("sim/balanced") + sim_model("sim/budget")
    text = suite_text(models, trials=2, limit=15, concurrency=4)
    total = 2 * 15 * 2
    ref_dir, cut_dir = tmp_path / "ref", tmp_path / "cut"
    for d in (ref_dir, cut_dir):
        d.mkdir()
        (d / "s.toml").write_text(text)
    ref = roibench("run", "s.toml", "--out", "runs", "--no-mlflow", cwd=ref_dir)
    assert ref.returncode == 0, ref.stderr[-2000:]
    reference = {
        (t["cell"], t["task_id"], t["trial"]): t
        for t in journal_trials(only_journal(ref_dir / "runs"))
    }
    assert len(reference) == total

    kill_after = random.Random(os.urandom(8)).randint(3, total - 10)
    env = dict(os.environ, COLUMNS="200", MLFLOW_TRACKING_URI=f"sqlite:///{cut_dir / 'm.db'}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "roibench", "run", "s.toml", "--out", "runs", "--no-mlflow"],
        cwd=cut_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    journal: Path | None = None
    while time.monotonic() < deadline:
        found = list((cut_dir / "runs").rglob("journal.jsonl"))
        if found and len(journal_trials_tolerant(found[0])) >= kill_after:
            journal = found[0]
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert journal is not None, "the run never reached the kill point"
    before = journal_trials_tolerant(journal)
    assert len(before) < total, f"killed too late (kill_after={kill_after})"
    # calls of trials that were in flight at the kill: written, never followed by a trial line
    finished = {(t["cell"], t["task_id"], t["trial"]) for t in before}
    in_flight_calls = [
        o for o in journal_lines_tolerant(journal)
        if o["kind"] == "call" and tuple(o["key"]) not in finished
    ]  # fmt: skip

    resumed = roibench("run", "s.toml", "--resume", str(journal), "--no-mlflow", cwd=cut_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = journal_trials(journal)
    keys = [(t["cell"], t["task_id"], t["trial"]) for t in after]
    assert len(keys) == len(set(keys)) == total, f"kill_after={kill_after}"
    assert set(keys) == set(reference)
    assert total_cost(after) == total_cost(list(reference.values()))
    # the lost attempts' calls are kept, on the trials that re-ran them
    assert sum(len(t["lost_calls"]) for t in after) == len(in_flight_calls)
    for t in after:
        ref_t = reference[(t["cell"], t["task_id"], t["trial"])]
        assert t["outcome"]["status"] == ref_t["outcome"]["status"]
        assert t["cost_usd"] == ref_t["cost_usd"]


def journal_lines_tolerant(path: Path) -> list[dict[str, Any]]:
    """Complete lines of a journal that may end in a torn write."""
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]]


def journal_trials_tolerant(path: Path) -> list[dict[str, Any]]:
    """Trial lines of a journal being written (a last partial line is ignored)."""
    trials = []
    for line in path.read_text().split("\n")[:-1]:
        obj = json.loads(line)
        if obj["kind"] == "trial":
            trials.append(obj["trial"])
    return trials


def test_spend_cap_holds(tmp_path: Path) -> None:
    models = sim_model("sim/frontier")
    (tmp_path / "s.toml").write_text(suite_text(models, trials=2, limit=10, concurrency=8))
    full = roibench("run", "s.toml", "--out", "full", "--no-mlflow", cwd=tmp_path)
    assert full.returncode == 0
    full_spend = total_cost(journal_trials(only_journal(tmp_path / "full")))
    cap = (full_spend / 3).quantize(Decimal("0.000001"))
    capped = roibench(
        "run", "s.toml", "--out", "capped", "--max-spend", str(cap), "--no-mlflow", cwd=tmp_path
    )
    assert capped.returncode == 0, capped.stderr[-2000:]
    trials = journal_trials(only_journal(tmp_path / "capped"))
    spent = total_cost(trials)
    assert spent <= cap
    assert 0 < len(trials) < 20
    assert "spend cap reached" in capped.stderr
    # complete metrics for what ran: the results table covers the trials in the journal
    assert "Results per cell" in capped.stdout and "sim/frontier" in capped.stdout


def test_response_cache_makes_no_model_calls_on_rerun(tmp_path: Path, refunds_tasks) -> None:
    server = SimServer(refunds_tasks).start_in_thread()
    try:
        models = (
            f'[[models]]\nname = "b"\nprovider = "local"\nmodel = "sim/budget"\n'
            f'base_url = "{server.base_url}"\n{PRICE}'
        )
        (tmp_path / "s.toml").write_text(suite_text(models, trials=2, limit=6))
        first = roibench(
            "run", "s.toml", "--out", "r1", "--cache", "c.sqlite", "--no-mlflow", cwd=tmp_path
        )
        assert first.returncode == 0, first.stderr[-2000:]
        calls_made = server.requests
        assert calls_made > 0
        second = roibench(
            "run", "s.toml", "--out", "r2", "--cache", "c.sqlite", "--no-mlflow", cwd=tmp_path
        )
        assert second.returncode == 0, second.stderr[-2000:]
        assert server.requests == calls_made  # nothing new reached the model
        t1 = journal_trials(only_journal(tmp_path / "r1"))
        t2 = journal_trials(only_journal(tmp_path / "r2"))
        assert all(c["cached"] for t in t2 for c in t["calls"])
        assert total_cost(t1) == total_cost(t2)  # the report keeps what the calls cost
        assert "served from c.sqlite" in second.stderr and "this run paid $0.0000" in second.stderr
    finally:
        server.stop_thread()


class _BillingHandler(BaseHTTPRequestHandler):
    body = b"{}"
    status = 402
    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def billing_server(shared_data: Path) -> Iterator[tuple[str, type[_BillingHandler]]]:
    body = (
        shared_data / "provider-payloads/deepseek-error-402-insufficient-balance.json"
    ).read_bytes()
    handler = type("H", (_BillingHandler,), {"body": body, "hits": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", handler
    finally:
        httpd.shutdown()


def test_billing_error_stops_the_cell(tmp_path: Path, billing_server) -> None:
    url, handler = billing_server
    models = (
        f'[[models]]\nname = "broke"\nprovider = "deepseek"\nmodel = "deepseek-flash"\n'
        f'base_url = "{url}"\n{PRICE}'
    )
    (tmp_path / "s.toml").write_text(suite_text(models, trials=2, limit=10, concurrency=1))
    out = roibench("run", "s.toml", "--out", "runs", "--no-mlflow", cwd=tmp_path,
                   env={"DEEPSEEK_API_KEY": "sk-test-not-a-real-key-000"})  # fmt: skip
    assert out.returncode == 1, out.stderr[-2000:]  # a stopped cell needs attention
    assert "stopped:" in out.stderr and "Insufficient Balance" in out.stderr
    trials = journal_trials(only_journal(tmp_path / "runs"))
    assert len(trials) == 1  # the first billing error ends the cell; nothing retried
    assert trials[0]["error_class"] == "billing"
    assert handler.hits == 1


PLANTED = "sk-planted-SECRET-4f8a2c9d1e7b"


def test_planted_key_is_found_nowhere(tmp_path: Path, refunds_tasks) -> None:
    server = SimServer(refunds_tasks, api_key=PLANTED).start_in_thread()
    try:
        models = (
            f'[[models]]\nname = "keyed"\nprovider = "local"\nmodel = "sim/balanced"\n'
            f'base_url = "{server.base_url}"\napi_key_env = "ROIBENCH_PLANTED_KEY"\n{PRICE}'
        )
        (tmp_path / "s.toml").write_text(suite_text(models, trials=1, limit=5))
        env = {"ROIBENCH_PLANTED_KEY": PLANTED}
        ok = roibench("run", "s.toml", "--out", "runs", cwd=tmp_path, env=env)
        assert ok.returncode == 0, ok.stderr[-2000:]
        # a wrong key: the server echoes it in its 401 body, as DeepSeek does
        wrong = "sk-wrong-key-echoed-back-77aa"
        bad = roibench("run", "s.toml", "--out", "runs2", "--no-preflight", cwd=tmp_path,
                       env={"ROIBENCH_PLANTED_KEY": wrong})  # fmt: skip
        assert bad.returncode == 1  # the cell stopped at the auth error
        bad_trials = journal_trials(only_journal(tmp_path / "runs2"))
        assert bad_trials[0]["error_class"] == "auth"
        assert "ROIBENCH_PLANTED_KEY" in bad_trials[0]["outcome"]["reason"]
    finally:
        server.stop_thread()
    texts = [ok.stdout, ok.stderr, bad.stdout, bad.stderr]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PLANTED.encode() not in data, path
            assert wrong.encode() not in data, path
    for text in texts:
        assert PLANTED not in text and wrong not in text


def test_preflight_names_provider_and_variable(tmp_path: Path, refunds_tasks) -> None:
    server = SimServer(refunds_tasks, api_key=PLANTED).start_in_thread()
    try:
        models = (
            f'[[models]]\nname = "keyed"\nprovider = "local"\nmodel = "sim/balanced"\n'
            f'base_url = "{server.base_url}"\napi_key_env = "ROIBENCH_PLANTED_KEY"\n{PRICE}'
        )
        (tmp_path / "s.toml").write_text(suite_text(models))
        out = roibench("run", "s.toml", "--out", "runs", cwd=tmp_path,
                       env={"ROIBENCH_PLANTED_KEY": "sk-wrong-0123456789abcdef"})  # fmt: skip
    finally:
        server.stop_thread()
    assert out.returncode == 2
    assert "'local' rejected the API key in ROIBENCH_PLANTED_KEY" in out.stderr
    assert "sk-wrong-0123456789abcdef" not in out.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_mlflow_then_roibench_log(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(suite_text(sim_model(), trials=1, limit=4))
    dead = f"http://127.0.0.1:{free_port()}"
    out = roibench(
        "run", "s.toml", "--out", "runs", cwd=tmp_path, env={"MLFLOW_TRACKING_URI": dead}
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "MLflow not logged" in out.stderr and "roibench log" in out.stderr
    journal = only_journal(tmp_path / "runs")
    assert len(journal_trials(journal)) == 4
    uri = f"sqlite:///{tmp_path / 'later.db'}"
    logged = roibench("log", str(journal), cwd=tmp_path, env={"MLFLOW_TRACKING_URI": uri})
    assert logged.returncode == 0, logged.stderr[-2000:]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("rel")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) == 2 and len(children) == 1
    assert children[0].data.metrics["trials"] == 4
