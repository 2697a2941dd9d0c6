"""evals/verticals.toml end to end, briefly: every vertical x every agent x every sim profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from mlflow.tracking import MlflowClient

from roibench.config.suite import resolve_suite_text

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "evals" / "verticals.toml"
WORKFLOWS = {"refunds", "accounts_payable", "claims", "kyc_aml", "it_helpdesk"}
AGENTS = {"react", "plan_execute", "self_check"}
MODELS = {"sim/frontier", "sim/balanced", "sim/budget"}


def test_suite_spans_the_matrix() -> None:
    # the models and their prices come from the base it extends (evals/shared)
    config = tomllib.loads(resolve_suite_text(SUITE))
    assert set(config["workflows"]) == WORKFLOWS
    assert {a["name"] for a in config["agents"]} == AGENTS
    assert {m["name"] for m in config["models"]} == MODELS
    assert all(m["price_card"].startswith("list/") for m in config["models"])


def test_verticals_run_briefly_end_to_end(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, COLUMNS="200")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "roibench",
            "run",
            str(SUITE),
            "--limit",
            "2",
            "--trials",
            "1",
            "--out",
            str(tmp_path / "runs"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]

    journal = next((tmp_path / "runs" / "verticals").glob("*/journal.jsonl"))
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    trials = [r["trial"] for r in rows if r.get("kind") == "trial"]
    cells = {f"{w}/{a}/{m}" for w in WORKFLOWS for a in AGENTS for m in MODELS}
    assert {t["cell"] for t in trials} == cells
    assert len(trials) == len(cells) * 2
    assert not [t for t in trials if t["outcome"]["status"] == "error"]

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("verticals")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=500)
    children = {r.data.tags["roibench.cell"] for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert children == cells
