"""One suite invocation, start to finish: plan, preflight, run into the journal, summarise,
log to MLflow — and the same from a journal alone (`roibench log`, resume)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from roibench.config.suite import parse_suite
from roibench.core.errors import InputError
from roibench.core.records import TrialRecord
from roibench.journal.store import JournalScan, scan_journal
from roibench.results.summary import CellSummary, summarize_tally
from roibench.results.tally import CellTally
from roibench.run.runner import RunPlan, plan_suite

if TYPE_CHECKING:
    from roibench.sinks.mlflow.trace_stream import StreamedTraces, TraceStreamer


@dataclass
class Overrides:
    """Command-line values that replace the suite's (recorded in the journal header)."""

    trials: int | None = None
    limit: int | None = None
    concurrency: int | None = None
    seed: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        """For the journal header."""
        return {"trials": self.trials, "limit": self.limit, "concurrency": self.concurrency,
                "seed": self.seed}  # fmt: skip


def plan_from_journal(header: dict[str, Any], journal: Path) -> RunPlan:
    """Rebuild the plan a journal was written for, from the suite text its header recorded."""
    text = header.get("suite_text")
    suite_file = header.get("suite_file")
    if not isinstance(text, str) or not isinstance(suite_file, str):
        raise InputError("journal header lacks the suite text", file=journal, line=1)
    loaded = parse_suite(text, Path(suite_file))
    o = header.get("overrides") or {}
    return plan_suite(
        loaded,
        trials=o.get("trials"),
        limit=o.get("limit"),
        concurrency=o.get("concurrency"),
        seed=o.get("seed"),
    )


def new_tallies(plan: RunPlan) -> dict[str, CellTally]:
    """An empty running tally per cell, in the plan's cell order."""
    return {c.label: CellTally(write_tools=c.workflow.write_tools) for c in plan.cells}


def tally_trials(plan: RunPlan, trials: Iterable[TrialRecord]) -> dict[str, CellTally]:
    """The tallies of `trials`, by cell."""
    tallies = new_tallies(plan)
    for t in trials:
        tallies[t.cell].add(t)
    return tallies


def tally_journal(plan: RunPlan, path: Path) -> tuple[dict[str, CellTally], JournalScan]:
    """The tallies of a journal's trials (one streaming pass) and what resuming it needs."""
    tallies = new_tallies(plan)

    def add(trial: TrialRecord) -> None:
        tally = tallies.get(trial.cell)
        if tally is None:
            raise ValueError(f"a trial of cell {trial.cell!r}, which the suite does not have")
        tally.add(trial)

    return tallies, scan_journal(path, on_trial=add)


def summarize(plan: RunPlan, tallies: dict[str, CellTally]) -> dict[str, CellSummary]:
    """Every cell's figures."""
    return {
        cell.label: summarize_tally(
            cell.label,
            tallies[cell.label],
            cell.workflow.value_model,
            plan.suite.config.outcome_pricing,
            seed=plan.seed,
        )
        for cell in plan.cells
    }


@dataclass
class PreflightProblem:
    """Why an endpoint cannot be used."""

    provider: str
    message: str


def preflight(plan: RunPlan, timeout_s: float = 5.0) -> list[PreflightProblem]:
    """Check each real endpoint before the run: the key is set, the endpoint answers, and it
    accepts the key (GET /models; no tokens are spent). The simulator is skipped."""
    problems: list[PreflightProblem] = []
    seen: set[tuple[str, str]] = set()
    for model in plan.suite.config.models:
        provider = model.resolved_provider()
        if provider.simulated or provider.base_url is None:
            continue
        key = (provider.name, provider.base_url)
        if key in seen:
            continue
        seen.add(key)
        secret = provider.api_key()
        if secret is None and not provider.key_optional:
            problems.append(PreflightProblem(
                provider.name,
                f"provider {provider.name!r} needs an API key: set {provider.api_key_env}",
            ))  # fmt: skip
            continue
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        url = provider.base_url.rstrip("/") + "/models"
        try:
            response = httpx.get(url, headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            problems.append(PreflightProblem(
                provider.name,
                f"cannot reach provider {provider.name!r} at {provider.base_url} "
                f"({type(exc).__name__}); check base_url and the network",
            ))  # fmt: skip
            continue
        if response.status_code in (401, 403):
            problems.append(PreflightProblem(
                provider.name,
                f"provider {provider.name!r} rejected the API key in {provider.api_key_env} "
                f"(HTTP {response.status_code})",
            ))  # fmt: skip
    return problems


@dataclass
class MlflowOutcome:
    """Whether logging worked."""

    run_id: str | None
    tracking_uri: str
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def tracking_reachable(uri: str, timeout_s: float = 3.0) -> str | None:
    """None if an HTTP tracking server answers its health check, else why not. Local stores
    (sqlite, files) are always reachable."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        httpx.get(uri.rstrip("/") + "/health", timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} connecting to {uri}"
    return None


def log_to_mlflow(
    plan: RunPlan,
    trials: Iterable[TrialRecord],
    summaries: dict[str, CellSummary],
    journal_path: Path,
    run_name: str,
    experiment: str | None,
    *,
    trace_sample: float | None = None,
    streamed: StreamedTraces | TraceStreamer | None = None,
) -> MlflowOutcome:
    """Log the run (`trials`: every trial, read once — e.g. streamed from the journal); on an
    unreachable or failing tracking server, say so instead of raising (the journal already
    holds everything; `roibench log` retries later)."""
    import mlflow

    from roibench.core.secrets import redact
    from roibench.sinks.mlflow.runs import log_suite_run
    from roibench.sinks.mlflow.trace_stream import TraceStreamer

    uri = mlflow.get_tracking_uri()
    problem = tracking_reachable(uri)
    try:
        if problem is not None:
            return MlflowOutcome(None, uri, problem)
        run_id = log_suite_run(
            plan, trials, summaries, journal_path, run_name, experiment,
            trace_sample=trace_sample, streamed=streamed,
        )  # fmt: skip
    except Exception as exc:  # the run's results are safe in the journal whatever happens here
        return MlflowOutcome(None, uri, redact(f"{type(exc).__name__}: {exc}")[:500])
    finally:
        if isinstance(streamed, TraceStreamer):
            streamed.close()  # the helper never outlives logging, whatever happened
    return MlflowOutcome(run_id, uri)


def fresh_spend(trials: Sequence[TrialRecord]) -> Decimal:
    """Money actually paid by these trials (cached calls excluded)."""
    return sum(
        (c.cost_usd for t in trials for c in t.calls if c.cost_usd is not None and not c.cached),
        Decimal(0),
    )
