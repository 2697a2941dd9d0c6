"""`roibench init DIR` scaffolds a project that runs offline at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from roibench.cli.app import app


def roibench(*args: str, cwd: Path, uri: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_init_then_run_the_scaffold(tmp_path: Path) -> None:
    project = tmp_path / "acme-evals"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    init = roibench("init", str(project), cwd=tmp_path, uri=uri)
    assert init.returncode == 0, init.stderr
    for path in (
        "agents/README.md",
        "agents/careful_react.py",
        "workflows/expenses.py",
        "datasets/expenses/tasks.jsonl",
        "evals/expenses.toml",
        ".gitignore",
    ):
        assert (project / path).is_file(), path
    assert "acme-evals" in (project / "README.md").read_text()

    run = roibench(
        "run", "evals/expenses.toml", "--trials", "1", "--limit", "3", cwd=project, uri=uri
    )
    assert run.returncode == 0, run.stderr[-3000:]
    journals = list((project / "roibench-runs" / "expenses").glob("*/journal.jsonl"))
    assert len(journals) == 1
    trials = [
        json.loads(line)["trial"]
        for line in journals[0].read_text().splitlines()
        if json.loads(line).get("kind") == "trial"
    ]
    # 3 agents (two built in, one from agents/) x 2 models x 3 tasks, each graded
    assert len(trials) == 3 * 2 * 3
    assert {t["agent"] for t in trials} == {"react", "self_check", "careful_react"}
    assert all(t["outcome"]["status"] != "error" for t in trials)
    assert sum(t["outcome"]["status"] == "resolved" for t in trials) >= 9
    assert "MLflow: run" in run.stdout


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "not empty" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]

    forced = CliRunner().invoke(app, ["init", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "workflows" / "expenses.py").is_file()
    assert (tmp_path / "keep.txt").read_text() == "mine"
