"""From a live plan to its RunSpec (the journal header), and back for a resume."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from roibench import __version__
from roibench.config.suite import parse_suite
from roibench.config.value import OutcomePricing, ValueModel
from roibench.core.errors import InputError
from roibench.core.faults import FaultSpec
from roibench.core.records import CallRole
from roibench.journal.spec import (
    AgentRecord,
    CellSpec,
    ModelRecord,
    Overrides,
    PriceSource,
    RolePrice,
    RunOptionsRecord,
    RunSpec,
    SuiteRecord,
    TaskRef,
    WorkflowRecord,
    sha256_text,
    source_digest,
    spec_from_header,
)
from roibench.model.local_server import LocalModel
from roibench.pricing.cards import Pricer
from roibench.run.runner import Cell, RunPlan, plan_suite

AGENT_SIDE_ROLES = (CallRole.AGENT, CallRole.PLANNER, CallRole.VERIFIER)
"""Roles whose calls the cell's own model answers (and its card prices)."""


def _price(pricer: Pricer | None) -> PriceSource | None:
    return None if pricer is None else PriceSource.of(pricer)


def cell_spec(cell: Cell, local_models: Mapping[str, LocalModel] | None = None) -> CellSpec:
    """The record of one live cell (with the GGUF file served, for a managed llamacpp model)."""
    wf_source, wf_digest = source_digest(cell.workflow)
    agent_source, agent_digest = source_digest(cell.agent)
    agent_price = _price(cell.price)
    prices = [
        RolePrice(
            role=role,
            model=cell.model.name,
            provider=cell.model.provider,
            model_id=cell.model.model_id,
            price=agent_price,
        )
        for role in AGENT_SIDE_ROLES
    ]
    user = None
    if cell.user_model is not None:
        user = ModelRecord(spec=cell.user_model, provider=cell.user_model.resolved_provider())
        prices.append(
            RolePrice(
                role=CallRole.USER_SIM,
                model=cell.user_model.name,
                provider=cell.user_model.provider,
                model_id=cell.user_model.model_id,
                price=_price(cell.user_price),
            )
        )
    return CellSpec(
        label=cell.label,
        workflow=WorkflowRecord(
            name=cell.workflow.name,
            ref=cell.workflow_ref,
            source=wf_source,
            code_sha256=wf_digest,
            policy_sha256=sha256_text(cell.workflow.policy),
            dataset=str(cell.dataset.path.resolve()),
            dataset_sha256=cell.dataset.sha256,
            tasks=tuple(TaskRef(id=t.id, tier=t.tier) for t in cell.tasks),
            write_tools=tuple(sorted(cell.workflow.write_tools)),
            value_model=cell.workflow.value_model,
        ),
        agent=AgentRecord(
            name=cell.agent.name, ref=cell.agent_ref, source=agent_source, code_sha256=agent_digest
        ),
        model=ModelRecord(
            spec=cell.model,
            provider=cell.model.resolved_provider(),
            local=(local_models or {}).get(cell.model.name),
        ),
        prices=tuple(prices),
        user_model=user,
    )


def build_run_spec(
    plan: RunPlan,
    *,
    run_name: str,
    started_at: datetime,
    overrides: Overrides | None = None,
    faults: FaultSpec | None = None,
    max_spend_usd: Decimal | None = None,
    trace_sample: float | None = None,
    executor: str = "local",
    git_commit: str | None = None,
) -> RunSpec:
    """The RunSpec of a plan about to run."""
    suite = plan.suite
    return RunSpec(
        run_name=run_name,
        started_at=started_at,
        roibench_version=__version__,
        git_commit=git_commit,
        suite=SuiteRecord(
            name=suite.config.name,
            description=suite.config.description,
            file=str(suite.path.resolve()),
            sha256=sha256_text(suite.text),
            text=suite.text,
        ),
        seed=plan.seed,
        trials=plan.trials,
        outcome_pricing=suite.config.outcome_pricing,
        cells=tuple(cell_spec(c, plan.local_models) for c in plan.cells),
        options=RunOptionsRecord(
            concurrency=plan.concurrency,
            overrides=overrides or Overrides(),
            faults=faults,
            max_spend_usd=max_spend_usd,
            trace_sample=trace_sample,
            executor="ray" if executor == "ray" else "local",
        ),
    )


def plan_from_spec(spec: RunSpec, journal: Path, suite_text: str | None = None) -> RunPlan:
    """The live plan to resume a journal with: the suite text it recorded (or `suite_text`,
    the same suite as the user gave it: the recorded copy has URL credentials masked), planned
    again, then checked against the recorded spec — a workflow, agent, dataset or price that
    changed since would make the resumed trials incomparable with the finished ones."""
    o = spec.options.overrides
    plan = plan_suite(
        parse_suite(suite_text or spec.suite.text, Path(spec.suite.file)),
        trials=o.trials,
        limit=o.limit,
        concurrency=o.concurrency,
        seed=o.seed,
        trial_timeout_s=o.trial_timeout_s,
    )
    restrict_to_spec(plan, spec)  # a run of part of its suite (`run --model/--task/...`)
    for recorded, live in zip(spec.cells, (cell_spec(c) for c in plan.cells), strict=False):
        changed = [
            what
            for what, a, b in (
                ("workflow code", recorded.workflow.code_sha256, live.workflow.code_sha256),
                ("policy", recorded.workflow.policy_sha256, live.workflow.policy_sha256),
                ("dataset", recorded.workflow.dataset_sha256, live.workflow.dataset_sha256),
                ("tasks", recorded.workflow.task_ids, live.workflow.task_ids),
                ("value model", recorded.workflow.value_model, live.workflow.value_model),
                ("agent code", recorded.agent.code_sha256, live.agent.code_sha256),
                ("prices", recorded.prices, live.prices),
            )
            if a != b
        ]
        if changed:
            raise InputError(
                f"cell {recorded.label}: {', '.join(changed)} changed since the journal was "
                "written; a resumed run must run what the finished trials ran (start a new run)",
                file=journal,
                line=1,
            )
    if [c.label for c in spec.cells] != [c.label for c in plan.cells]:
        raise InputError(
            "the suite's cells differ from the journal's; start a new run", file=journal, line=1
        )
    # the GGUF files the run served, as recorded (`check_local_models` compares them with disk)
    plan.local_models.update({c.model.name: c.model.local for c in spec.cells if c.model.local})
    return plan


def restrict_to_spec(plan: RunPlan, spec: RunSpec) -> RunPlan:
    """The plan narrowed to the cells the spec recorded and each to its recorded tasks (a
    run of part of a suite: `run --workflow/--agent/--model/--task/--tier`); a cell of the
    spec the suite no longer has stays missing, for the caller's check to name."""
    recorded = {c.label: set(c.workflow.task_ids) for c in spec.cells}
    if [c.label for c in plan.cells] == list(recorded) and all(
        {t.id for t in c.tasks} == recorded[c.label] for c in plan.cells
    ):
        return plan
    kept = []
    for cell in plan.cells:
        ids = recorded.get(cell.label)
        if ids is None:
            continue
        tasks = tuple(t for t in cell.dataset.tasks if t.id in ids)
        cell.dataset = cell.dataset.model_copy(update={"tasks": tasks})
        kept.append(cell)
    plan.cells = kept
    return plan


def upgrade_v1(header: dict[str, Any], journal: Path) -> RunSpec:
    """Read a version 1 journal (before RunSpec): its suite text planned again — all version 1
    can offer — with every figure it recorded taken from its `economics` record (each cell's
    price source, value model and write tools). Version 1 did not record the user simulator's
    price source; such calls are priced with today's card for it."""
    text, suite_file = header.get("suite_text"), header.get("suite_file")
    if not isinstance(text, str) or not isinstance(suite_file, str):
        raise InputError("journal header lacks the suite text", file=journal, line=1)
    o = Overrides.model_validate(header.get("overrides") or {})
    plan = plan_suite(
        parse_suite(text, Path(suite_file)),
        trials=o.trials,
        limit=o.limit,
        concurrency=o.concurrency,
        seed=o.seed,
        trial_timeout_s=o.trial_timeout_s,
    )
    started = str(header.get("started_at") or "")
    try:
        started_at = datetime.strptime(started[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        started_at = datetime.fromtimestamp(journal.stat().st_mtime, UTC)
    spec = build_run_spec(
        plan,
        run_name=str(header.get("run_name") or f"{plan.suite.config.name}-{started}"),
        started_at=started_at,
        overrides=o,
    )
    econ = header.get("economics")
    if not isinstance(econ, dict):
        return spec.model_copy(update={"upgraded_from": 1})
    recorded: dict[str, Any] = econ.get("cells") or {}
    cells = []
    for cell in spec.cells:
        was = recorded.get(cell.label)
        if not isinstance(was, dict):
            cells.append(cell)
            continue
        snapshot = was.get("price")
        price = (
            None
            if not snapshot
            else PriceSource(
                ref=str(was.get("price_ref") or ""),
                description=str(was.get("price_ref") or ""),
                snapshot=snapshot,
            )
        )
        prices = tuple(
            p.model_copy(update={"price": price}) if p.role in AGENT_SIDE_ROLES else p
            for p in cell.prices
        )
        workflow = cell.workflow.model_copy(
            update={
                "value_model": ValueModel.model_validate(was["value_model"]),
                "write_tools": tuple(was.get("write_tools") or ()),
            }
        )
        cells.append(cell.model_copy(update={"prices": prices, "workflow": workflow}))
    pricing = OutcomePricing.model_validate(econ.get("outcome_pricing") or {})
    return spec.model_copy(
        update={
            "cells": tuple(cells),
            "outcome_pricing": pricing,
            "seed": int(econ.get("bootstrap_seed", spec.seed)),
            "upgraded_from": 1,
        }
    )


def read_run_spec(journal: Path) -> RunSpec:
    """The RunSpec of a journal (any schema version this roibench reads)."""
    from roibench.journal.store import read_header

    return spec_from_header(read_header(journal), journal, upgrade_v1)


def spec_for(plan: RunPlan, run_name: str | None = None) -> RunSpec:
    """The RunSpec of a plan started now, with no command-line options (for code that drives
    a `Runner` directly: tests, notebooks)."""
    return build_run_spec(
        plan,
        run_name=run_name or plan.suite.config.name,
        started_at=datetime.now(UTC),
    )
