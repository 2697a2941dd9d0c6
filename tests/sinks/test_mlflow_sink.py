"""MLflow layout end to end: the real CLI logs quickstart suites to a real `mlflow server`;
everything is read back through the MLflow client. Plus unit tests of the trace builder."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mlflow_server_fixture import REPO, SECRET, FinishedRuns, MlflowServer

from roibench.core.outcomes import Outcome
from roibench.core.records import CallRecord, ToolCallRecord, TrialRecord
from roibench.core.usage import Usage
from roibench.sinks.mlflow.traces import TraceContext, _maybe_json, plan_trace, trace_sampled

CELLS = {"refunds/react/sim/frontier", "refunds/react/sim/balanced", "refunds/react/sim/budget"}
PNG = b"\x89PNG\r\n\x1a\n"


def _client(runs: FinishedRuns) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(runs.server.url)


def _children(client: Any, runs: FinishedRuns, parent: str) -> dict[str, Any]:
    found = client.search_runs([runs.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    return {r.data.tags["roibench.cell"]: r for r in found}


def _journal(client: Any, parent: str, tmp_path: Path) -> list[TrialRecord]:
    local = client.download_artifacts(parent, "journal", str(tmp_path))
    lines = (Path(local) / "journal.jsonl").read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    return [TrialRecord.model_validate(o["trial"]) for o in objs if o.get("kind") == "trial"]


def _traces(runs: FinishedRuns, run_id: str) -> list[Any]:
    import mlflow

    mlflow.set_tracking_uri(runs.server.url)
    try:
        found = mlflow.search_traces(
            locations=[runs.experiment_id], run_id=run_id, return_type="list", max_results=500
        )
        assert isinstance(found, list)
        return found
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_parent_and_child_runs(finished_runs: FinishedRuns) -> None:
    client = _client(finished_runs)
    parent = client.get_run(finished_runs.full)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["roibench.simulated"] == "true"
    assert parent.data.params["trials"] == "2"
    assert parent.data.params["cells"] == "3"
    children = _children(client, finished_runs, finished_runs.full)
    assert set(children) == CELLS
    digest = hashlib.sha256((REPO / "datasets/refunds/tasks.jsonl").read_bytes()).hexdigest()
    for label, child in children.items():
        assert child.info.status == "FINISHED"
        assert child.data.tags["roibench.cell"] == label
        p, m = child.data.params, child.data.metrics
        assert p["workflow"] == "refunds" and p["agent"] == "react"
        assert p["model"] == label.split("/", 2)[2]
        assert p["dataset_hash"] == digest[:12]
        assert m["trials"] == 8 and m["tasks"] == 4 and m["traces"] == 8
        for name in ("success_rate", "pass_hat_1", "pass_hat_2", "spend_usd", "roi_token_pricing"):
            assert name in m, (label, name)
        assert 0 <= m["pass_hat_2"] <= m["pass_hat_1"] <= 1
        # the dataset is a run input, digest = the file's hash
        inputs = child.inputs.dataset_inputs
        assert len(inputs) == 1
        ds = inputs[0].dataset
        assert ds.digest == digest[:12]
        assert ds.name == "refunds:tasks.jsonl"
        assert {t.key: t.value for t in inputs[0].tags}["roibench.sha256"] == digest


def test_artifacts_tables_and_plots(finished_runs: FinishedRuns, tmp_path: Path) -> None:
    client = _client(finished_runs)
    pid = finished_runs.full
    top = {a.path for a in client.list_artifacts(pid)}
    assert {"suite", "journal", "plots"} <= top
    assert [a.path for a in client.list_artifacts(pid, "suite")] == ["suite/quickstart.toml"]
    plots = {a.path: a.file_size for a in client.list_artifacts(pid, "plots")}
    assert set(plots) == {
        "plots/success_vs_cost_per_outcome.png",
        "plots/roi_vs_outcome_price.png",
        "plots/pass_hat_k.png",
    }
    local = Path(client.download_artifacts(pid, "plots", str(tmp_path)))
    for name in plots:
        data = (local / Path(name).name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000, name
    trials = _journal(client, pid, tmp_path)
    assert len(trials) == 24
    for label, child in _children(client, finished_runs, pid).items():
        cid = child.info.run_id
        mine = [t for t in trials if t.cell == label]
        table = _table(client, cid, "trials.json", tmp_path)
        assert len(table) == len(mine) == 8
        assert Counter(r["status"] for r in table) == Counter(t.outcome.status.value for t in mine)
        calls = _table(client, cid, "calls.json", tmp_path)
        assert len(calls) == sum(len(t.calls) for t in mine)
        assert sum(r["output_tokens"] for r in calls) == sum(t.usage.output_tokens for t in mine)
        assert sum(r["cost_usd"] for r in calls) == pytest.approx(
            float(sum(t.cost_usd or 0 for t in mine))
        )


def _table(client: Any, run_id: str, name: str, tmp_path: Path) -> list[dict[str, Any]]:
    """A log_table artifact read back as rows."""
    local = client.download_artifacts(run_id, name, str(tmp_path / run_id))
    data = json.loads(Path(local).read_text())
    return [dict(zip(data["columns"], row, strict=True)) for row in data["data"]]


def test_one_trace_per_trial_with_calls_tools_and_outcome(
    finished_runs: FinishedRuns, tmp_path: Path
) -> None:
    client = _client(finished_runs)
    trials = _journal(client, finished_runs.full, tmp_path)
    for label, child in _children(client, finished_runs, finished_runs.full).items():
        traces = _traces(finished_runs, child.info.run_id)
        mine = {(t.task_id, t.trial): t for t in trials if t.cell == label}
        assert len(traces) == len(mine) == 8
        seen = set()
        for trace in traces:
            tags = trace.info.tags
            assert tags["roibench.cell"] == label
            task_id, k = tags["mlflow.traceName"].rsplit(" #", 1)
            trial = mine[(task_id, int(k))]
            seen.add((task_id, int(k)))
            assert tags["roibench.status"] == trial.outcome.status.value
            spans = trace.data.spans
            roots = [s for s in spans if s.parent_id is None]
            assert len(roots) == 1
            root = roots[0]
            assert root.span_type == "AGENT"
            assert root.outputs["status"] == trial.outcome.status.value
            assert root.outputs["reply"] == trial.reply
            chats = [s for s in spans if s.span_type == "CHAT_MODEL"]
            tools = [s for s in spans if s.span_type == "TOOL"]
            assert len(chats) == len(trial.calls)
            assert [s.name for s in tools] == [c.name for c in trial.tool_log]
            assert [s.inputs for s in tools] == [c.args for c in trial.tool_log]
            assert [s.outputs for s in tools] == [_maybe_json(c.result) for c in trial.tool_log]
            usage = [s.get_attribute("mlflow.chat.tokenUsage") for s in chats]
            assert sum(u["input_tokens"] for u in usage) == trial.usage.input_tokens
            assert sum(u["output_tokens"] for u in usage) == trial.usage.output_tokens
            cost = sum(s.get_attribute("mlflow.llm.cost")["total_cost"] for s in chats)
            assert trial.cost_usd is not None
            assert cost == pytest.approx(float(trial.cost_usd), rel=1e-9, abs=1e-12)
            steps = [s.get_attribute("roibench.step") for s in chats]
            assert steps == sorted(steps) and steps[0] == 1
            assert all(root.start_time_ns <= s.start_time_ns <= root.end_time_ns for s in spans)
        assert seen == set(mine)


def test_trace_sampling_is_the_same_trials_in_every_cell(
    finished_runs: FinishedRuns, tmp_path: Path
) -> None:
    client = _client(finished_runs)
    parent = client.get_run(finished_runs.sampled)
    assert parent.data.params["trace_sample"] == "0.5"
    seed = int(parent.data.params["seed"])
    trials = _journal(client, finished_runs.sampled, tmp_path)
    keys = {(t.task_id, t.trial) for t in trials}
    expected = {key for key in keys if trace_sampled(seed, key[0], key[1], 0.5)}
    assert 0 < len(expected) < len(keys)  # the sample drops some (seed 7: 2 of 4 pairs)
    for child in _children(client, finished_runs, finished_runs.sampled).values():
        traces = _traces(finished_runs, child.info.run_id)
        got = set()
        for trace in traces:
            task_id, k = trace.info.tags["mlflow.traceName"].rsplit(" #", 1)
            got.add((task_id, int(k)))
        assert got == expected
        assert child.data.metrics["traces"] == len(expected)


def test_no_secret_anywhere(finished_runs: FinishedRuns) -> None:
    client = _client(finished_runs)
    runs = client.search_runs([finished_runs.experiment_id])
    assert len(runs) == 8
    for run in runs:
        for value in [*run.data.params.values(), *run.data.tags.values()]:
            assert SECRET not in value
    root = finished_runs.server.root
    files = [p for p in root.rglob("*") if p.is_file() and p.name != "server.log"]
    assert any(p.suffix == ".png" for p in files) and any(p.name == "mlflow.db" for p in files)
    for path in files:  # artifacts and the database (params, tags, spans)
        assert SECRET.encode() not in path.read_bytes(), path


# ---- the trace builder, without a server ------------------------------------------------------

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _call(at: float, latency: float, *, error: str | None = None, role: str = "agent") -> Any:
    return CallRecord.model_validate(
        {
            "role": role,
            "started_at": T0 + timedelta(seconds=at),
            "latency_s": latency,
            "usage": Usage(input_tokens=100, output_tokens=10, requests=1),
            "cost_usd": None if error else Decimal("0.001"),
            "finish_reason": None if error else "tool_calls",
            "error": error,
        }
    )


def _tool(name: str, at: float) -> ToolCallRecord:
    return ToolCallRecord(
        name=name, args={"x": name}, result="ok", ok=True,
        started_at=T0 + timedelta(seconds=at), latency_s=0.001,
    )  # fmt: skip


def _trial(calls: list[Any], tools: list[ToolCallRecord]) -> TrialRecord:
    return TrialRecord.model_validate(
        {
            "cell": "w/a/m", "workflow": "w", "agent": "a", "model": "m", "task_id": "t1",
            "tier": "easy", "trial": 0, "seed": 1, "outcome": Outcome.error("boom"),
            "calls": tuple(calls), "usage": sum((c.usage for c in calls), Usage()),
            "cost_usd": None, "steps": 3, "tool_log": tuple(tools), "started_at": T0,
            "duration_s": 5.0,
        }
    )  # fmt: skip


CTX = TraceContext("0", "run", "w/a/m", "model-x", "sim", True)


def test_plan_trace_numbers_steps_and_places_tools_after_their_turn() -> None:
    # turn 1 at 0.0-0.5 calls lookup; turn 2 fails (429) at 1.0, retries at 1.5-2.0 and calls
    # two tools; turn 3 at 3.0 answers
    trial = _trial(
        [_call(0.0, 0.5), _call(1.0, 0.1, error="rate_limited"), _call(1.5, 0.5), _call(3.0, 0.4)],
        [_tool("lookup", 0.6), _tool("refund", 2.1), _tool("note", 2.2)],
    )
    plan = plan_trace(trial, CTX)
    root, *children = plan.spans
    assert root.parent_id is None and root.span_type == "AGENT"
    assert root.error == "boom"  # an error outcome marks the trace as failed
    assert all(s.parent_id == root.span_id for s in children)
    steps = {s.name: s.attributes.get("roibench.step") for s in children}
    assert steps == {
        "step 1: chat model-x": 1, "lookup": 1, "step 2: chat model-x": 2,
        "refund": 2, "note": 2, "step 3: chat model-x": 3,
    }  # fmt: skip
    chats = [s for s in children if s.span_type == "CHAT_MODEL"]
    assert len(chats) == 4  # the failed attempt is its own span, in turn 2
    assert chats[1].error == "rate_limited" and chats[1].attributes["mlflow.llm.cost"] == {}
    assert [s.start_ns for s in children] == sorted(s.start_ns for s in children)
    assert plan.tags["roibench.status"] == "error"
    assert plan.mlflow_id.startswith("tr-") and len(plan.mlflow_id) == 35


def test_trace_sampling_fraction_and_determinism() -> None:
    keys = [(f"task-{i}", k) for i in range(400) for k in range(3)]
    picked = [key for key in keys if trace_sampled(7, *key, 0.25)]
    assert 0.2 < len(picked) / len(keys) < 0.3
    assert picked == [key for key in keys if trace_sampled(7, *key, 0.25)]
    assert picked != [key for key in keys if trace_sampled(8, *key, 0.25)]
    assert all(trace_sampled(7, *key, 1.0) for key in keys[:50])
    assert not any(trace_sampled(7, *key, 0.0) for key in keys[:50])


def test_fluent_fallback_writes_the_same_trees(mlflow_server: MlflowServer) -> None:
    import mlflow
    from mlflow import MlflowClient

    from roibench.sinks.mlflow.traces import log_trial_traces

    mlflow.set_tracking_uri(mlflow_server.url)
    try:
        client = MlflowClient()
        exp = client.create_experiment("fallback")
        run = client.create_run(exp).info.run_id
        trial = _trial([_call(0.0, 0.5), _call(1.0, 0.4)], [_tool("lookup", 0.6)])
        ctx = TraceContext(exp, run, "w/a/m", "model-x", "sim", True)
        ids = {
            method: log_trial_traces([trial], ctx, client, method=method)
            for method in ("fluent", "batched")
        }
        traces = mlflow.search_traces(locations=[exp], run_id=run, return_type="list")
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert {t.info.trace_id for t in traces} == {*ids["fluent"], *ids["batched"]}
    shapes = {tuple(sorted((s.name, s.span_type) for s in t.data.spans)) for t in traces}
    assert len(shapes) == 1  # both writers produce the same tree
    assert len(next(iter(shapes))) == 4


def test_every_metric_name_is_documented_in_the_readme() -> None:
    import re

    from roibench.config.value import OutcomePricing, ValueModel
    from roibench.results.summary import summarize_cell

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z0-9_]+)`", section))
    resolved = Outcome.resolved()
    trials = [
        _trial([_call(0.0, 0.5)], []).model_copy(
            update={"task_id": f"t{i}", "trial": k, "cost_usd": Decimal("0.001"),
                    "outcome": resolved if i else Outcome.error("x")}
        )
        for i in range(3)
        for k in range(2)
    ]  # fmt: skip
    value = ValueModel(unit="ticket", human_cost_per_task_usd=Decimal(5), source="test")
    metrics = summarize_cell(
        "w/a/m", trials, value, OutcomePricing(price_usd=Decimal("0.5"))
    ).metrics
    names = {re.sub(r"^pass_hat_\d+", "pass_hat_k", name) for name in metrics} | {"traces"}
    assert len(names) > 40
    assert names - documented == set()


def _priced_trials() -> list[TrialRecord]:
    outcomes = [Outcome.resolved(), Outcome.resolved(), Outcome.failed("wrong"),
                Outcome.resolved(), Outcome.escalated("handoff"), Outcome.resolved()]  # fmt: skip
    return [
        _trial([_call(0.0, 0.5)], []).model_copy(
            update={"task_id": f"t{i // 2}", "trial": i % 2, "outcome": o,
                    "cost_usd": Decimal("0.001")}
        )
        for i, o in enumerate(outcomes)
    ]  # fmt: skip


def test_roi_curve_meets_the_cells_roi_and_the_corridor() -> None:
    from roibench.config.value import OutcomePricing, ValueModel
    from roibench.results.economics import cell_economics, roi_outcome_at_price

    value = ValueModel(unit="ticket", human_cost_per_task_usd=Decimal(5), source="test")
    pricing = OutcomePricing(price_usd=Decimal("0.99"))
    econ = cell_economics(_priced_trials(), value, pricing)
    assert econ.roi_outcome_pricing is not None and econ.price_corridor_usd is not None
    assert roi_outcome_at_price(econ, pricing, pricing.price_usd) == econ.roi_outcome_pricing
    high = econ.price_corridor_usd[1]
    at_high = roi_outcome_at_price(econ, pricing, high)
    assert at_high is not None and abs(at_high) < Decimal("1e-9")  # buyer breaks even there
    assert roi_outcome_at_price(econ, pricing, Decimal(0)) is None  # nothing billed


def test_pareto_frontier_and_plots_render() -> None:
    from roibench.config.value import OutcomePricing, ValueModel
    from roibench.results.summary import summarize_cell
    from roibench.sinks.plots import CellPoint, pareto_frontier, suite_plots

    points = [("a", 1.0, 0.9), ("b", 0.5, 0.5), ("c", 2.0, 0.8), ("d", 0.5, 0.4), ("e", 3.0, 0.95)]
    assert pareto_frontier(points) == ["b", "a", "e"]
    value = ValueModel(unit="ticket", human_cost_per_task_usd=Decimal(5), source="test")
    pricing = OutcomePricing(price_usd=Decimal("0.99"))
    s = summarize_cell("w/a/m", _priced_trials(), value, pricing)
    images = suite_plots([CellPoint("w/a/m", s.metrics, s.economics)], pricing)
    assert set(images) == {
        "success_vs_cost_per_outcome.png", "roi_vs_outcome_price.png", "pass_hat_k.png"
    }  # fmt: skip
    assert all(png.startswith(PNG) and len(png) > 5000 for png in images.values())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_does_not_repeat_its_parents_trace_ids() -> None:
    # the trace helper is forked; ids it draws must differ from those the parent draws next
    from roibench.sinks.mlflow import traces as tracing

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave without running pytest's teardown
        os.write(write_end, str(tracing._RNG.getrandbits(128)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    child_next = int(os.read(read_end, 64))
    os.close(read_end)
    assert child_next != tracing._RNG.getrandbits(128)
