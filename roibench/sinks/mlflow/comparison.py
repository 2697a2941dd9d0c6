"""Paired comparisons as MLflow runs: one run per pair (tag roibench.role=comparison), nested
under a comparison-set run when several pairs were compared at once. Metrics
`delta_<metric>`, `delta_<metric>_ci_low/_ci_high`, `delta_<metric>_p_value`, `_p_holm`,
`mdd_<metric>`, and both cells' own figures `a_<metric>` / `b_<metric>`; the comparison as
JSON and its forest plot as artifacts."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from roibench import __version__
from roibench.results.paired import PairedComparison
from roibench.sinks.mlflow.runs import experiment_id_for
from roibench.sinks.plots import FOREST_FILE, forest_plot

MAX_PARAM = 500
COMPARISON_ROLE = "comparison"


def comparison_metrics(c: PairedComparison) -> dict[str, float]:
    """The flat metrics of one pair (undefined figures left out)."""
    m: dict[str, float | None] = {"tasks": float(c.tasks), "k": float(c.k)}
    for f in c.figures:
        base = f"delta_{f.metric}"
        m |= {
            base: f.delta,
            f"{base}_ci_low": f.ci_low,
            f"{base}_ci_high": f.ci_high,
            f"{base}_p_value": f.p_value,
            f"{base}_p_holm": f.p_holm,
            f"mdd_{f.metric}": f.mdd,
            f"a_{f.metric}": f.a,
            f"b_{f.metric}": f.b,
        }
    return {k: v for k, v in m.items() if v is not None}


def comparison_params(c: PairedComparison) -> dict[str, str]:
    """What was compared and how."""
    params = {
        "a_cell": c.a,
        "b_cell": c.b,
        "a_journal": c.a_journal,
        "b_journal": c.b_journal,
        "seed": str(c.seed),
        "resamples": str(c.resamples),
        "permutations": str(c.permutations),
        "exact_permutation": str(c.exact).lower(),
        "a_task_ids_sha256": c.fingerprint_a.task_ids_sha256,
        "b_task_ids_sha256": c.fingerprint_b.task_ids_sha256,
        "forced": str(c.forced).lower(),
        "differences": "; ".join(c.differences) or "none",
        "unchecked_digests": ", ".join(c.unchecked) or "none",
    }
    return {k: v[:MAX_PARAM] for k, v in params.items()}


def log_comparisons(
    comparisons: Sequence[PairedComparison], experiment: str, sources: Sequence[str] = ()
) -> str:
    """Log the pairs; return the run id of the pair (one pair) or of the set (several).
    `sources`: MLflow suite runs compared (tag roibench.compared_runs)."""
    client = MlflowClient()
    experiment_id = experiment_id_for(client, experiment)
    common = {
        "roibench.version": __version__,
        "roibench.compared_runs": ",".join(sources),
    }
    parent_id = None
    if len(comparisons) > 1:
        parent = client.create_run(
            experiment_id,
            run_name=f"paired comparison ({len(comparisons)} pairs)",
            tags={**common, "roibench.role": "comparison_set"},
        )
        parent_id = parent.info.run_id
    now = int(time.time() * 1000)
    first = None
    for c in comparisons:
        tags = {**common, "roibench.role": COMPARISON_ROLE, "roibench.pair": c.name[:MAX_PARAM],
                "roibench.forced": str(c.forced).lower()}  # fmt: skip
        if parent_id is not None:
            tags["mlflow.parentRunId"] = parent_id
        run = client.create_run(experiment_id, run_name=c.name[:250], tags=tags)
        rid = run.info.run_id
        first = first or rid
        try:
            client.log_batch(
                rid,
                metrics=[Metric(k, v, now, 0) for k, v in comparison_metrics(c).items()],
                params=[Param(k, v) for k, v in comparison_params(c).items()],
                tags=[RunTag("roibench.notes", "; ".join(c.differences))] if c.differences else [],
            )
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "comparison.json").write_text(c.model_dump_json(indent=2))
                (Path(tmp) / FOREST_FILE).write_bytes(forest_plot([c]))
                client.log_artifacts(rid, tmp)
        except BaseException:
            client.set_terminated(rid, "FAILED")
            raise
        client.set_terminated(rid, "FINISHED")
    if parent_id is not None:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / FOREST_FILE).write_bytes(forest_plot(comparisons))
            client.log_artifacts(parent_id, tmp)
        client.set_terminated(parent_id, "FINISHED")
        return parent_id
    assert first is not None
    return first
