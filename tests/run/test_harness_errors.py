"""Harness errors apart from infrastructure errors: a tool or grader bug is `harness_error`,
named, reported apart from error_rate; the run goes on and exits non-zero. A cell whose
trials all fail the same final way (an unknown model) stops early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[2]
WF = REPO / "tests" / "fixtures" / "plugins" / "buggy_workflows.py"
MODEL = '[[models]]\nname = "sim/balanced"\nprovider = "sim"\n'
PRICE = "[models.price]\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n"


def roibench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="250", MLFLOW_TRACKING_URI=f"sqlite:///{cwd / 'm.db'}")
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def trials_of(out: Path) -> list[dict[str, Any]]:
    (journal,) = out.rglob("journal.jsonl")
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    return [o["trial"] for o in lines if o["kind"] == "trial"]


def test_tool_and_grader_bugs_are_harness_errors_and_the_run_goes_on(tmp_path: Path) -> None:
    flows = ", ".join(
        f'"{WF}:{name}"' for name in ("CrashingTool", "RaisingGrader", "NoOutcomeGrader", "Healthy")
    )
    (tmp_path / "s.toml").write_text(
        f'name = "bugs"\ntrials = 2\nworkflows = [{flows}]\nagents = ["react"]\n'
        f"[outcome_pricing]\nprice_usd = 0.5\n{MODEL}{PRICE}"
    )
    out = roibench("run", "s.toml", "--out", "runs", cwd=tmp_path)
    assert out.returncode == 1, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    trials = trials_of(tmp_path / "runs")
    assert len(trials) == 4 * 4 * 2  # every trial of every cell ran
    by_wf: dict[str, set[str]] = {}
    for t in trials:
        by_wf.setdefault(t["workflow"], set()).add(t["outcome"]["reason"])
        expected = "resolved" if t["workflow"] == "healthy" else "harness_error"
        assert t["outcome"]["status"] == expected, t
    assert by_wf["crashing_tool"] == {
        "workflow crashing_tool: tool 'lookup' raised: KeyError: 'no_such_table'"
    }
    (raised,) = by_wf["raising_grader"]
    assert raised.startswith("grader of workflow raising_grader raised TypeError")
    assert by_wf["no_outcome_grader"] == {
        "grader of workflow no_outcome_grader returned str, not an Outcome"
    }
    # the end-of-run summary names them; the table shows them in the errors column
    assert "24 trial(s) ended in a harness error" in out.stderr
    assert "8 × workflow crashing_tool: tool 'lookup' raised: KeyError" in out.stderr
    assert "100% harness" in out.stdout
    # in MLflow: harness_error_rate, apart from error_rate
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")
    exp = client.get_experiment_by_name("bugs")
    assert exp is not None
    cells = {
        r.data.tags["roibench.cell"]: r.data.metrics
        for r in client.search_runs([exp.experiment_id], "tags.`roibench.role` = 'cell'")
    }
    assert cells["crashing_tool/react/sim/balanced"]["harness_error_rate"] == 1.0
    assert cells["crashing_tool/react/sim/balanced"]["error_rate"] == 0.0
    assert cells["healthy/react/sim/balanced"]["harness_error_rate"] == 0.0
    assert cells["healthy/react/sim/balanced"]["success_rate"] == 1.0


def test_an_unknown_model_stops_its_cell_early_and_the_run_exits_non_zero(
    tmp_path: Path,
) -> None:
    """Every trial of a misspelled model gets a 404 (final, never retried): the cell stops
    after its first three, the other cell runs to the end, and the exit code says so."""
    (tmp_path / "s.toml").write_text(
        'name = "typo"\ntrials = 2\nconcurrency = 1\nagents = ["react"]\n'
        '[[workflows]]\nname = "refunds"\nlimit = 4\n[outcome_pricing]\nprice_usd = 0.5\n'
        f'{MODEL}{PRICE}[[models]]\nname = "sim/balancd"\nprovider = "sim"\n{PRICE}'
    )
    out = roibench("run", "s.toml", "--out", "runs", "--no-mlflow", cwd=tmp_path)
    assert out.returncode == 1, out.stderr[-3000:]
    trials = trials_of(tmp_path / "runs")
    typo = [t for t in trials if t["model"] == "sim/balancd"]
    assert len(typo) == 3
    assert {t["error_class"] for t in typo} == {"not_found"}
    assert all(len(t["calls"]) == 1 for t in typo)  # a 404 is not retried
    assert len([t for t in trials if t["model"] == "sim/balanced"]) == 8
    assert "stopped:" in out.stderr and "sim/balancd" in out.stderr
    assert "does not exist" in out.stderr  # the provider's words
