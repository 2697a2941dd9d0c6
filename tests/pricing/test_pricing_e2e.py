"""Done-when of the economics issue: a suite mixing a simulated model priced as DeepSeek
(usage in DeepSeek's dialect, peak windows) and one priced by a CNY card logs costs to MLflow
that match a hand calculation; its journal re-prices into a new, linked MLflow run.

Runs `roibench run` (real runner, real HTTP simulator) and `roibench reprice --mlflow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
M = Decimal(1_000_000)
USD_PER_CNY = Decimal("0.137931034483")  # 1 / 7.25 (bundled fx.yaml) to 12 digits


def deepseek_flash_usd(usage: dict[str, int], at: datetime) -> Decimal:
    """deepseek-flash list price by hand: peak Mon-Fri 01-04 and 06-10 UTC costs double."""
    at = at.astimezone(UTC)
    peak = at.weekday() < 5 and (1 <= at.hour < 4 or 6 <= at.hour < 10)
    rin, rhit, rout = (
        (Decimal("0.30"), Decimal("0.006"), Decimal("1.20"))
        if peak
        else (Decimal("0.15"), Decimal("0.003"), Decimal("0.60"))
    )
    miss = usage["input_tokens"] - usage["cache_read_tokens"]
    return (miss * rin + usage["cache_read_tokens"] * rhit + usage["output_tokens"] * rout) / M


def glm_53_cny_in_usd(usage: dict[str, int]) -> Decimal:
    """zhipu glm-5.3 CNY list: 8 in / 2 cached / 28 out per million, then CNY -> USD."""
    miss = usage["input_tokens"] - usage["cache_read_tokens"]
    cny = (miss * 8 + usage["cache_read_tokens"] * 2 + usage["output_tokens"] * 28) / M
    return cny * USD_PER_CNY


def journal_trials(path: Path) -> list[dict[str, Any]]:
    return [
        obj["trial"]
        for obj in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        if obj.get("kind") == "trial"
    ]


def test_pricing_mix_costs_in_mlflow_match_hand_calculation(
    mlflow_store: str, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["MLFLOW_TRACKING_URI"] = mlflow_store
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "roibench",
            "run",
            str(REPO / "evals" / "pricing_mix.toml"),
            "--limit",
            "3",
            "--trials",
            "2",
            "--out",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "UNPRICED" not in done.stdout + done.stderr
    journal = next(tmp_path.glob("pricing_mix/*/journal.jsonl"))
    trials = journal_trials(journal)

    hand: dict[str, Decimal] = {}
    resolved: dict[str, int] = {}
    cache_hits = 0
    for t in trials:
        for call in t["calls"]:
            if call["error"] is not None:
                continue  # a failed request is not billed
            at = datetime.fromisoformat(call["started_at"])
            if t["model"] == "sim/balanced":
                cost = deepseek_flash_usd(call["usage"], at)
                cache_hits += call["usage"]["cache_read_tokens"]
            else:
                cost = glm_53_cny_in_usd(call["usage"])
            hand[t["cell"]] = hand.get(t["cell"], Decimal(0)) + cost
        resolved[t["cell"]] = resolved.get(t["cell"], 0) + (t["outcome"]["status"] == "resolved")
    assert cache_hits > 0, "sim/balanced reports cache hits in DeepSeek's dialect"
    assert set(hand) == {"refunds/react/sim/balanced", "refunds/react/sim/budget"}

    client = MlflowClient(mlflow_store)
    experiment = client.get_experiment_by_name("pricing_mix")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = {
        r.data.tags["roibench.cell"]: r for r in runs if "mlflow.parentRunId" in r.data.tags
    }
    assert set(children) == set(hand)
    for cell, spend in hand.items():
        metrics = children[cell].data.metrics
        assert metrics["spend_usd"] == float(spend)
        assert metrics["cost_per_task_usd"] == float(spend / 6)  # 3 tasks x 2 trials
        if resolved[cell]:
            assert metrics["cost_per_outcome_usd"] == float(spend / resolved[cell])
    budget = children["refunds/react/sim/budget"].data.params
    assert budget["price_currency"] == "CNY"
    assert budget["fx_rate"] == "1 USD = 7.25 CNY (2026-06-01)"
    assert budget["fx_date"] == "2026-06-01"
    assert budget["price_source"] == "bundled card zhipu/glm-5.3"
    balanced = children["refunds/react/sim/balanced"].data.params
    assert balanced["price_source"] == "bundled card deepseek/deepseek-flash"
    assert balanced["price_currency"] == "USD"
    assert "peak mon,tue,wed,thu,fri 01:00-04:00 06:00-10:00 UTC" in balanced["price_card"]

    # re-price from the journal into a new MLflow run linked to the original
    again = subprocess.run(
        [sys.executable, "-m", "roibench", "reprice", str(journal), "--mlflow"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert again.returncode == 0, again.stderr
    runs = client.search_runs([experiment.experiment_id])
    repriced = [
        r
        for r in runs
        if r.data.tags.get("roibench.reprice") == "true" and "mlflow.parentRunId" not in r.data.tags
    ]
    assert len(repriced) == 1
    assert repriced[0].data.tags["roibench.repriced_from"] == parent.info.run_id
    new_children = [
        r for r in runs if r.data.tags.get("mlflow.parentRunId") == repriced[0].info.run_id
    ]
    assert {r.data.tags["roibench.cell"] for r in new_children} == set(hand)
    for r in new_children:
        cell = r.data.tags["roibench.cell"]
        assert r.data.metrics["spend_usd"] == float(hand[cell])
        original = children[cell].data.metrics
        assert r.data.metrics["traces"] == 0  # a re-priced run has no traces of its own
        assert {k: v for k, v in r.data.metrics.items() if k != "traces"} == {
            k: v for k, v in original.items() if k in r.data.metrics and k != "traces"
        }
        assert "cost_per_outcome_usd" in r.data.metrics and "roi_token_pricing" in r.data.metrics
