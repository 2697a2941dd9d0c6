"""The journal is the seam: after a run, changing the project's workflow (its value model)
and its price card changes nothing that `roibench log` or `roibench reprice` report for that
run — both read the RunSpec the journal recorded. New figures are asked for explicitly
(`reprice --value-model`, `--prices`), and those are checked against a hand computation."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from roibench.cli.reprice import reprice_journal
from roibench.journal.store import read_journal

WORKFLOW = """
from datetime import date
from decimal import Decimal

from roibench import ValueModel
from roibench.workflows.refunds import RefundsWorkflow


class PricedRefunds(RefundsWorkflow):
    name = "priced_refunds"
    value_model = ValueModel(
        unit="ticket", human_cost_per_task_usd=Decimal("HUMAN"), rework_cost_usd=Decimal("1"),
        source="test", as_of=date(2026, 12, 1),
    )
"""

CARDS = """\
cards:
  - id: team/sim-card
    model: sim/balanced
    currency: USD
    input_per_mtok: INPUT
    cache_read_per_mtok: 0.1
    output_per_mtok: 4.0
    source_url: https://example.invalid/prices
    checked: 2026-12-01
"""

SUITE = """\
name = "seam"
seed = 5
trials = 2
workflows = [{ name = "workflows/priced.py:PricedRefunds", limit = 5 }]
agents = ["react"]
price_cards = "cards.yaml"

[outcome_pricing]
price_usd = 0.99

[[models]]
name = "sim/balanced"
provider = "sim"
price_card = "team/sim-card"
"""


def write_project(root: Path, human: str, input_price: str) -> None:
    (root / "workflows").mkdir(exist_ok=True)
    (root / "workflows" / "priced.py").write_text(WORKFLOW.replace("HUMAN", human))
    (root / "cards.yaml").write_text(CARDS.replace("INPUT", input_price))


def roibench(root: Path, *args: str, store: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["COLUMNS"] = "200"
    if store is not None:
        env["MLFLOW_TRACKING_URI"] = store
    out = subprocess.run(
        [sys.executable, "-m", "roibench", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def cell_metrics(store: str) -> dict[str, float]:
    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("seam")
    assert exp is not None
    children = [
        r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" in r.data.tags
    ]
    assert len(children) == 1
    return dict(children[0].data.metrics)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, float]]:
    """A run of the project as it was, and the figures `roibench log` reported for it."""
    root = tmp_path_factory.mktemp("project")
    write_project(root, human="8.01", input_price="1.0")
    (root / "suite.toml").write_text(SUITE)
    roibench(root, "run", "suite.toml", "--no-mlflow", "--out", "runs")
    journal = next((root / "runs").rglob("journal.jsonl"))
    before = f"sqlite:///{root / 'before.db'}"
    roibench(root, "log", str(journal), "--no-trace", store=before)
    return root, journal, cell_metrics(before)


def test_log_and_reprice_reproduce_the_run_after_the_project_changed(
    finished: tuple[Path, Path, dict[str, float]],
) -> None:
    root, journal, before = finished
    assert before["roi_token_pricing"] != 0 and before["spend_usd"] > 0
    write_project(root, human="80.10", input_price="2.0")  # both would change every ROI
    after = f"sqlite:///{root / 'after.db'}"
    roibench(root, "log", str(journal), "--no-trace", store=after)
    assert cell_metrics(after) == before
    (cell,) = reprice_journal(journal).cells
    assert cell.mismatched_calls == 0
    assert cell.repriced.metrics == cell.original.metrics
    for name in ("spend_usd", "roi_token_pricing", "roi_outcome_pricing", "cost_per_outcome_usd"):
        assert cell.repriced.metrics[name] == pytest.approx(before[name], rel=1e-12), name


def test_a_new_value_model_is_asked_for_and_computed_by_the_formula(
    finished: tuple[Path, Path, dict[str, float]], tmp_path: Path
) -> None:
    _root, journal, before = finished
    (tmp_path / "value.toml").write_text(
        'unit = "ticket"\nhuman_cost_per_task_usd = "80.10"\nrework_cost_usd = "1"\n'
        'source = "asked for"\n'
    )
    (cell,) = reprice_journal(journal, value_model=tmp_path / "value.toml").cells
    trials = read_journal(journal).trials
    spend = sum((t.cost_usd or Decimal(0) for t in trials), Decimal(0))
    n = {s: sum(t.outcome.status.value == s for t in trials) for s in
         ("resolved", "escalated", "failed", "harmful", "error")}  # fmt: skip
    loss = sum((t.outcome.loss_usd for t in trials), Decimal(0))
    human, rework = Decimal("80.10"), Decimal("1")
    # DESIGN's formulas: baseline = T x human; the buyer pays the spend, a human at human cost
    # for escalations and errors, human + rework for failures, and loss + human + rework for
    # harm
    baseline = human * len(trials)
    buyer = (
        spend
        + human * (n["escalated"] + n["error"])
        + (human + rework) * n["failed"]
        + loss
        + (human + rework) * n["harmful"]
    )
    expected = (baseline - buyer) / spend
    assert cell.repriced.metrics["roi_token_pricing"] == pytest.approx(float(expected), rel=1e-9)
    assert cell.repriced.metrics["roi_token_pricing"] != pytest.approx(before["roi_token_pricing"])
    assert cell.repriced.metrics["spend_usd"] == pytest.approx(before["spend_usd"], rel=1e-12)


def test_new_prices_are_asked_for(
    finished: tuple[Path, Path, dict[str, float]], tmp_path: Path
) -> None:
    _root, journal, before = finished
    (tmp_path / "double.yaml").write_text(
        CARDS.replace("INPUT", "2.0").replace("0.1", "0.2").replace("4.0", "8.0")
    )
    (cell,) = reprice_journal(journal, prices=tmp_path / "double.yaml").cells
    # every price doubled by hand: spend doubles exactly
    assert cell.repriced.metrics["spend_usd"] == pytest.approx(2 * before["spend_usd"], rel=1e-12)


def test_a_repriced_mlflow_run_keeps_the_runs_identity(
    finished: tuple[Path, Path, dict[str, float]],
) -> None:
    root, journal, _before = finished
    store = f"sqlite:///{root / 'before.db'}"
    roibench(root, "reprice", str(journal), "--mlflow", store=store)
    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("seam")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    original = next(r for r in parents if "roibench.reprice" not in r.data.tags)
    repriced = next(r for r in parents if "roibench.reprice" in r.data.tags)
    assert repriced.data.tags["roibench.repriced_from"] == original.info.run_id
    assert original.info.status == "FINISHED"  # re-pricing never replaces the original
    for key in ("roibench.simulated", "roibench.role", "roibench.suite"):
        assert repriced.data.tags[key] == original.data.tags[key], key
    assert repriced.data.params["trials"] == original.data.params["trials"] == "2"
    child = next(r for r in runs if r.data.tags.get("mlflow.parentRunId") == repriced.info.run_id)
    for key in ("workflow", "agent", "model", "trials", "price_card"):
        assert key in child.data.params, key
    assert child.data.params["workflow"] == "priced_refunds"
