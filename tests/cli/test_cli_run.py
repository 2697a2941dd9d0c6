"""End to end: `roibench run` through the real HTTP simulator into a temporary MLflow store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[2]
CELLS = {"refunds/react/sim/frontier", "refunds/react/sim/balanced", "refunds/react/sim/budget"}


def roibench(*args: str, cwd: Path, uri: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlflowClient, Path]:
    tmp = tmp_path_factory.mktemp("quickstart")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    out = roibench(
        "run", str(REPO / "evals/quickstart.toml"), "--out", str(tmp / "runs"), cwd=tmp, uri=uri
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return MlflowClient(tracking_uri=uri), tmp


def test_quickstart_logs_parent_and_child_runs(quickstart: tuple[MlflowClient, Path]) -> None:
    client, _ = quickstart
    exp = client.get_experiment_by_name("quickstart")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    pid = parents[0].info.run_id
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {pid}
    assert {c.data.tags["roibench.cell"] for c in children} == CELLS
    # run names lead with what tells the cells apart (the runs table cuts long names)
    assert {c.info.run_name for c in children} == {
        "sim/frontier · react · refunds", "sim/balanced · react · refunds",
        "sim/budget · react · refunds",
    }  # fmt: skip
    assert parents[0].data.tags["roibench.simulated"] == "true"
    for child in children:
        p = child.data.params
        assert p["workflow"] == "refunds" and p["agent"] == "react" and p["provider"] == "sim"
        assert p["trials"] == "3" and len(p["dataset_hash"]) == 12
        assert p["outcome_price_usd"] == "0.99" and p["price_currency"] == "USD"
        m = child.data.metrics
        for name in (
            "success_rate",
            "pass_hat_1",
            "pass_hat_2",
            "pass_hat_3",
            "escalation_rate",
            "harm_rate",
            "spend_usd",
            "cost_per_task_usd",
            "cost_per_outcome_usd",
            "roi_token_pricing",
            "roi_outcome_pricing",
            "vendor_margin_outcome",
            "latency_p50_s",
            "latency_p95_s",
        ):
            assert name in m, name
        assert 0 < m["cost_per_outcome_usd"] < float("inf")
        # pass^k can only fall as k grows
        assert m["pass_hat_1"] >= m["pass_hat_2"] >= m["pass_hat_3"]
        assert m["pass_hat_1"] == pytest.approx(m["success_rate"])
        # CPO x successes = spend
        successes = m["success_rate"] * m["trials"]
        assert m["cost_per_outcome_usd"] * successes == pytest.approx(m["spend_usd"])
        artifacts = [a.path for a in client.list_artifacts(child.info.run_id)]
        assert "trials.json" in artifacts


def test_frontier_beats_budget(quickstart: tuple[MlflowClient, Path]) -> None:
    client, _ = quickstart
    exp = client.get_experiment_by_name("quickstart")
    assert exp is not None
    by_name = {
        r.data.tags.get("roibench.cell", r.info.run_name): r.data.metrics
        for r in client.search_runs([exp.experiment_id])
    }
    assert (
        by_name["refunds/react/sim/frontier"]["success_rate"]
        > by_name["refunds/react/sim/budget"]["success_rate"]
    )
    assert (
        by_name["refunds/react/sim/frontier"]["harm_rate"]
        < by_name["refunds/react/sim/budget"]["harm_rate"]
    )


def test_journal_holds_every_trial(quickstart: tuple[MlflowClient, Path]) -> None:
    import json

    _, tmp = quickstart
    journals = list((tmp / "runs").rglob("journal.jsonl"))
    assert len(journals) == 1
    lines = [json.loads(line) for line in journals[0].read_text().splitlines()]
    trials = [line for line in lines if line["kind"] == "trial"]
    # 60 tasks x 3 models x 3 trials
    assert len(trials) == 60 * 3 * 3
    keys = {(t["trial"]["cell"], t["trial"]["task_id"], t["trial"]["trial"]) for t in trials}
    assert len(keys) == len(trials)


def test_logged_figures_equal_a_recomputation_from_the_journal(
    quickstart: tuple[MlflowClient, Path],
) -> None:
    """`roibench run` keeps running tallies, never the trials: its figures must equal those
    computed from the journal's trials held whole, and its tables hold every trial."""
    import json

    from roibench.journal.store import read_journal
    from roibench.results.summary import summarize_cell
    from roibench.run.plan import read_run_spec

    client, tmp = quickstart
    journal = next((tmp / "runs").rglob("journal.jsonl"))
    contents = read_journal(journal)
    spec = read_run_spec(journal)
    exp = client.get_experiment_by_name("quickstart")
    assert exp is not None
    children = {
        r.data.tags["roibench.cell"]: r for r in client.search_runs([exp.experiment_id])
        if "mlflow.parentRunId" in r.data.tags
    }  # fmt: skip
    for cell in spec.cells:
        trials = [t for t in contents.trials if t.cell == cell.label]
        expected = summarize_cell(
            cell.label, trials, cell.workflow.value_model, spec.outcome_pricing,
            write_tools=frozenset(cell.workflow.write_tools), seed=spec.seed,
        ).metrics  # fmt: skip
        run = children[cell.label]
        # besides the cell's figures: its traces and the trials it was planned to run
        assert run.data.metrics["planned_trials"] == 60 * 3
        logged = {
            k: v for k, v in run.data.metrics.items() if k not in ("traces", "planned_trials")
        }
        assert logged.keys() == expected.keys()
        for name, value in expected.items():
            assert logged[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        path = client.download_artifacts(run.info.run_id, "trials.json", str(tmp))
        table = json.loads(Path(path).read_text())
        assert len(table["data"]) == len(trials) == 60 * 3
        calls = json.loads(
            Path(client.download_artifacts(run.info.run_id, "calls.json", str(tmp))).read_text()
        )
        assert len(calls["data"]) == sum(len(t.calls) for t in trials)


BAD_SUITES = {
    "unparsable": ("name = [", "not valid TOML"),
    "unknown workflow": (
        'name="x"\nworkflows=["nope"]\nagents=["react"]\n[outcome_pricing]\nprice_usd=1\n'
        '[[models]]\nname="m"\nprovider="sim"\n',
        "workflows[0].name",
    ),
    "unknown agent": (
        'name="x"\nworkflows=["refunds"]\nagents=["nope"]\n[outcome_pricing]\nprice_usd=1\n'
        '[[models]]\nname="m"\nprovider="sim"\n',
        "agents[0].name",
    ),
    "unknown provider": (
        'name="x"\nworkflows=["refunds"]\nagents=["react"]\n[outcome_pricing]\nprice_usd=1\n'
        '[[models]]\nname="m"\nprovider="nope"\n',
        "models.0.provider",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_bad_suite_exits_2_and_logs_nothing(tmp_path: Path, case: str) -> None:
    text, words = BAD_SUITES[case]
    suite = tmp_path / "bad.toml"
    suite.write_text(text)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = roibench("run", str(suite), "--out", str(tmp_path / "runs"), cwd=tmp_path, uri=uri)
    assert out.returncode == 2, out.stderr
    assert str(suite) in out.stderr and words in out.stderr
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "runs").exists()


def test_bad_dataset_row_names_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "tasks.jsonl"
    good = (REPO / "datasets/refunds/tasks.jsonl").read_text().splitlines()
    data.write_text(good[0] + "\n" + good[1].replace('"tier": "easy"', '"tier": "trivial"') + "\n")
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name="x"\nagents=["react"]\n[[workflows]]\nname="refunds"\ndataset="tasks.jsonl"\n'
        '[outcome_pricing]\nprice_usd=1\n[[models]]\nname="m"\nprovider="sim"\n'
    )
    out = roibench(
        "run",
        str(suite),
        "--out",
        str(tmp_path / "runs"),
        cwd=tmp_path,
        uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    assert out.returncode == 2
    assert f"{data}:2" in out.stderr and "tier" in out.stderr


def test_help_imports_no_heavy_modules() -> None:
    code = (
        "import sys\nfrom roibench.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('mlflow', 'pandas', 'langgraph') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
