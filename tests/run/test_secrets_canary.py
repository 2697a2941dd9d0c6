"""Canary keys: a short key and a long one in variables whose names look like nothing (no
KEY/TOKEN/SECRET), and credentials in base_urls, echoed back by a server as real providers
do — found nowhere roibench writes: the journal, the MLflow store (file and sqlite dump),
its artifacts and traces, the HTML report, the terminal."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from roibench.sim.server import SimServer

SHORT_KEY = "Qz#9!"  # 5 characters: shorter than any shape-based detector would take
LONG_KEY = "acme-long-canary-7f3e9"
URL_PASSWORD = "UrlPass123"
URL_QUERY_KEY = "QueryKey77"
CANARIES = (SHORT_KEY, LONG_KEY, URL_PASSWORD, URL_QUERY_KEY)
PRICE = "[models.price]\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n"


def model(name: str, base_url: str, key_env: str | None = None) -> str:
    key = f'api_key_env = "{key_env}"\n' if key_env else ""
    return (
        f'[[models]]\nname = "{name}"\nprovider = "local"\nmodel = "sim/balanced"\n'
        f'base_url = "{base_url}"\nmax_retries = 0\n{key}{PRICE}'
    )


def roibench(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, COLUMNS="250", MLFLOW_TRACKING_URI=f"sqlite:///{cwd / 'm.db'}", **env)
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_canary_keys_appear_nowhere(tmp_path: Path, refunds_tasks) -> None:
    keyed = SimServer(refunds_tasks, api_key="the-right-key-000").start_in_thread()
    open_ = SimServer(refunds_tasks).start_in_thread()
    try:
        host = f"127.0.0.1:{open_.port}"
        models = (
            # wrong keys: the server answers 401 quoting the key it got, as DeepSeek does
            model("short", keyed.base_url, "ACME_SHORT")
            + model("custom", keyed.base_url, "ACME_AUTH")
            # credentials in the URL; the first one works, the second gets 404s
            + model("creds", f"http://canaryuser:{URL_PASSWORD}@{host}/v1")
            + model("query", f"http://{host}/v1?key={URL_QUERY_KEY}")
        )
        (tmp_path / "s.toml").write_text(
            'name = "canary"\nseed = 5\ntrials = 2\nconcurrency = 4\nagents = ["react"]\n'
            '[[workflows]]\nname = "refunds"\nlimit = 4\n'
            f"[outcome_pricing]\nprice_usd = 0.99\n{models}"
        )
        env = {"ACME_SHORT": SHORT_KEY, "ACME_AUTH": LONG_KEY}
        run = roibench("run", "s.toml", "--out", "runs", "--no-preflight", cwd=tmp_path, env=env)
        # the cells with wrong keys stop at once: the run says so with its exit code
        assert run.returncode == 1, run.stderr[-3000:]
        assert "MLflow: run" in run.stdout, run.stderr[-3000:]
        assert "ACME_SHORT" in run.stderr  # the hint names the variable, not its value
        client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")
        exp = client.get_experiment_by_name("canary")
        assert exp is not None
        (parent,) = client.search_runs([exp.experiment_id], "tags.`roibench.role` = 'suite'")
        traces = client.search_traces(locations=[exp.experiment_id], max_results=200)
        assert len(traces) >= 8  # the 'creds' cell worked and was traced
        report = roibench("report", parent.info.run_id, "-o", "report.html", cwd=tmp_path, env=env)
        assert report.returncode == 0, report.stderr[-2000:]
        log = roibench("log", str(next((tmp_path / "runs").rglob("journal.jsonl"))),
                       cwd=tmp_path, env=env)  # fmt: skip
        assert log.returncode == 0, log.stderr[-2000:]
    finally:
        keyed.stop_thread()
        open_.stop_thread()
    # the suite the user wrote holds the URL credentials; nothing roibench wrote does
    suite_file = tmp_path / "s.toml"
    assert URL_PASSWORD in suite_file.read_text()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != suite_file]
    assert any(p.name == "journal.jsonl" for p in written)
    assert any(p.name == "report.html" for p in written)
    assert any("traces" in p.parts for p in written) or traces  # wherever MLflow keeps spans
    db = sqlite3.connect(tmp_path / "m.db")
    dump = "\n".join(db.iterdump())
    db.close()
    texts = {
        "run stdout": run.stdout, "run stderr": run.stderr, "report": report.stderr,
        "log": log.stdout + log.stderr, "sqlite dump": dump,
        **{str(p): p.read_bytes().decode("utf-8", "replace") for p in written},
    }  # fmt: skip
    for where, text in texts.items():
        for canary in CANARIES:
            assert canary not in text, (canary, where)
    # and what was masked says so
    (journal,) = (tmp_path / "runs").rglob("journal.jsonl")
    assert "[REDACTED]" in journal.read_text()
