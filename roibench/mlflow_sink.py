"""MLflow as a sink: one parent run per suite invocation, a nested child run per cell, written
in batches after the cell's trials are done (never per call)."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from roibench import __version__
from roibench.records import TrialRecord
from roibench.runner import Cell, RunPlan
from roibench.summary import CellSummary

MAX_PARAM = 500  # MLflow's param value limit is 6000 chars; keep params short and readable


def git_commit(path: Path) -> str | None:
    """The commit of the git checkout holding `path`, if any."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def cell_params(cell: Cell, plan: RunPlan) -> dict[str, str]:
    """The child run's params. Never a secret: only names, ids, prices and hashes."""
    provider = cell.model.resolved_provider()
    value = cell.workflow.value_model
    pricing = plan.suite.config.outcome_pricing
    card = cell.price
    params = {
        "workflow": cell.workflow.name,
        "agent": cell.agent.name,
        "provider": provider.name,
        "model": cell.model.name,
        "model_id": cell.model.model_id,
        "trials": str(plan.trials),
        "tasks": str(len(cell.tasks)),
        "seed": str(plan.seed),
        "dataset": cell.dataset.path.name,
        "dataset_hash": cell.dataset.short_hash,
        "max_steps": str(cell.agent_ref.max_steps),
        **(
            card.params()
            if card
            else {"price_card": "UNPRICED", "price_currency": "none", "price_source": "none"}
        ),
        "outcome_scheme": pricing.scheme,
        "outcome_price_usd": str(pricing.price_usd),
        "outcome_bill_escalations": str(pricing.bill_escalations),
        "outcome_refund_harmful": str(pricing.refund_harmful),
        "value_human_cost_usd": str(value.human_cost_per_task_usd),
        "value_escalation_cost_usd": str(value.escalation_usd),
        "value_rework_cost_usd": str(value.rework_cost_usd),
        "value_source": value.source,
    }
    return {k: v[:MAX_PARAM] for k, v in params.items()}


def trials_frame_rows(trials: Sequence[TrialRecord]) -> list[dict[str, Any]]:
    """One row per trial for the trials table."""
    return [
        {
            "task_id": t.task_id,
            "tier": t.tier,
            "trial": t.trial,
            "status": t.outcome.status.value,
            "reason": t.outcome.reason,
            "loss_usd": float(t.outcome.loss_usd),
            "error_class": t.error_class or "",
            "cost_usd": None if t.cost_usd is None else float(t.cost_usd),
            "input_tokens": t.usage.input_tokens,
            "cached_input_tokens": t.usage.cache_read_tokens,
            "output_tokens": t.usage.output_tokens,
            "requests": t.usage.requests,
            "steps": t.steps,
            "tool_calls": t.tool_calls,
            "duration_s": round(t.duration_s, 4),
            "seed": t.seed,
        }
        for t in trials
    ]


def log_suite_run(
    plan: RunPlan,
    trials: dict[str, list[TrialRecord]],
    summaries: dict[str, CellSummary],
    journal_path: Path | None,
    run_name: str,
    experiment_name: str | None = None,
) -> str:
    """Log the parent and child runs; return the parent run id."""
    import pandas as pd

    client = MlflowClient()
    cfg = plan.suite.config
    name = experiment_name or cfg.name
    experiment = client.get_experiment_by_name(name)
    experiment_id = (
        experiment.experiment_id if experiment is not None else client.create_experiment(name)
    )
    commit = git_commit(plan.suite.path.parent)
    common_tags = {
        "roibench.simulated": str(plan.simulated).lower(),
        "roibench.version": __version__,
        "roibench.suite": cfg.name,
    }
    if commit:
        common_tags["roibench.git_commit"] = commit
    parent = client.create_run(experiment_id, run_name=run_name, tags=common_tags)
    pid = parent.info.run_id
    now = int(time.time() * 1000)
    try:
        client.log_batch(
            pid,
            params=[
                Param("suite", cfg.name),
                Param("suite_file", str(plan.suite.path.name)),
                Param("trials", str(plan.trials)),
                Param("seed", str(plan.seed)),
                Param("concurrency", str(plan.concurrency)),
                Param("cells", str(len(plan.cells))),
                Param("outcome_scheme", cfg.outcome_pricing.scheme),
                Param("outcome_price_usd", str(cfg.outcome_pricing.price_usd)),
            ],
        )
        with tempfile.TemporaryDirectory() as tmp:
            suite_copy = Path(tmp) / plan.suite.path.name
            suite_copy.write_text(plan.suite.text, encoding="utf-8")
            client.log_artifact(pid, str(suite_copy), "suite")
        if journal_path is not None and journal_path.exists():
            client.log_artifact(pid, str(journal_path), "journal")
        for cell in plan.cells:
            summary = summaries[cell.label]
            tags = {
                **common_tags,
                "mlflow.parentRunId": pid,
                "roibench.cell": cell.label,
                "roibench.priced": str(summary.economics.priced).lower(),
            }
            child = client.create_run(experiment_id, run_name=cell.label, tags=tags)
            cid = child.info.run_id
            client.log_batch(
                cid,
                params=[Param(k, v) for k, v in cell_params(cell, plan).items()],
                metrics=[Metric(k, v, now, 0) for k, v in summary.metrics.items()],
                tags=[RunTag("roibench.notes", "; ".join(summary.economics.notes))]
                if summary.economics.notes
                else [],
            )
            frame = pd.DataFrame(trials_frame_rows(trials[cell.label]))
            mlflow.log_table(frame, artifact_file="trials.json", run_id=cid)
            client.set_terminated(cid, "FINISHED")
        client.set_terminated(pid, "FINISHED")
    except BaseException:
        client.set_terminated(pid, "FAILED")
        raise
    return pid


def summary_json(summaries: dict[str, CellSummary]) -> str:
    """All cells' metrics as JSON (for `--json` output and tests)."""
    return json.dumps({label: s.metrics for label, s in summaries.items()}, indent=2, sort_keys=True)
