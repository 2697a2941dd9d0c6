"""`roibench reprice JOURNAL`: recompute every cost and economic metric of a finished run under
other price cards or another date, from the journal alone, without calling any model.

The journal's RunSpec records every call role's price source in full (cards and FX rates, or
the genai-prices reference), each cell's value model and the outcome pricing, so re-pricing
with no options reproduces the original numbers exactly; `--prices`, `--at` and
`--value-model` are how new figures are asked for. Heavy imports stay inside functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from roibench.core.errors import InputError
from roibench.core.records import CallRole

if TYPE_CHECKING:
    from roibench.core.records import CallRecord, TrialRecord
    from roibench.journal.spec import RolePrice, RunSpec
    from roibench.pricing.cards import PriceCatalog, Pricer
    from roibench.results.summary import CellSummary
    from roibench.results.tally import CellTally

COMPARED = (
    "spend_usd",
    "cost_per_task_usd",
    "cost_per_outcome_usd",
    "buyer_total_token_usd",
    "roi_token_pricing",
    "roi_outcome_pricing",
    "vendor_margin_outcome",
    "net_savings_token_usd",
    "price_corridor_low_usd",
    "price_corridor_high_usd",
    "break_even_success_rate",
)
"""Metrics shown side by side (all metrics are recomputed and logged)."""


@dataclass
class RepricedCell:
    """One cell before and after re-pricing."""

    label: str
    original_price: str
    new_price: str
    original: CellSummary
    repriced: CellSummary
    new_pricer: Pricer | None
    mismatched_calls: int = 0
    """Calls whose recorded cost differs from the original price source's recomputation."""


@dataclass
class RepriceResult:
    """Every cell of a journal, re-priced."""

    spec: RunSpec
    cells: list[RepricedCell] = field(default_factory=list)
    prices_file: Path | None = None
    at: str | None = None
    value_model_file: Path | None = None
    new_pricers: dict[str, _CellReprice] = field(default_factory=dict)
    """Each cell's price sources by role, for the repriced trials and spec."""

    def repriced_spec(self) -> RunSpec:
        """The spec with each role's new price source (what a re-priced MLflow run shows)."""
        from roibench.journal.spec import PriceSource

        cells = []
        for cell in self.spec.cells:
            state = self.new_pricers[cell.label]
            prices = tuple(
                r.model_copy(
                    update={
                        "price": None
                        if (pr := state.new_for(r.role)) is None
                        else PriceSource.of(pr)
                    }
                )
                for r in cell.prices
            )
            cells.append(cell.model_copy(update={"prices": prices}))
        return self.spec.model_copy(update={"cells": tuple(cells)})


def parse_at(text: str) -> date | datetime:
    """`--at`: a day (YYYY-MM-DD: each call keeps its UTC time of day) or an instant (ISO)."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--at {text!r} is not a date (YYYY-MM-DD) or ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def call_time(started: datetime, at: date | datetime | None) -> datetime:
    """When a call is priced: its own time, or moved to `at`."""
    started = started if started.tzinfo else started.replace(tzinfo=UTC)
    if at is None:
        return started
    if isinstance(at, datetime):
        return at
    return datetime.combine(at, started.astimezone(UTC).timetz())


def reprice_call(call: CallRecord, pricer: Pricer | None, at: date | datetime | None) -> CallRecord:
    """The call with its cost recomputed by `pricer` (None: unpriced). A failed request is
    not billed: $0 when priced, as the run recorded it — except on a compute card, where
    every call is its machine time (the journal keeps each call's `timings` and wall time,
    so the same seconds are priced again)."""
    from roibench.pricing.cards import ComputePricer, call_cost_usd

    if isinstance(pricer, ComputePricer):
        return call.model_copy(update={"cost_usd": pricer.cost_for(call.busy_s)})

    if pricer is None:
        cost = None
    elif call.error is not None:
        cost = Decimal(0)
    else:
        cost = call_cost_usd(call.usage, pricer, call_time(call.started_at, at))
    return call.model_copy(update={"cost_usd": cost})


def reprice_trial(
    trial: TrialRecord,
    pricers: Callable[[CallRole], Pricer | None],
    at: date | datetime | None = None,
) -> TrialRecord:
    """The trial with every call's cost — lost attempts' included — recomputed by the price
    source of the call's role (`pricers(role)`)."""
    calls = tuple(reprice_call(c, pricers(c.role), at) for c in trial.calls)
    lost = tuple(reprice_call(c, pricers(c.role), at) for c in trial.lost_calls)
    total: Decimal | None = Decimal(0)
    for call in calls:
        total = None if total is None or call.cost_usd is None else total + call.cost_usd
    return trial.model_copy(update={"calls": calls, "lost_calls": lost, "cost_usd": total})


@dataclass
class _CellReprice:
    """One cell's price sources (by call role) and running tallies while the journal streams
    by."""

    original_pricers: dict[CallRole, Pricer | None]
    new_pricers: dict[CallRole, Pricer | None]
    original: CellTally
    repriced: CellTally
    mismatched_calls: int = 0

    def original_for(self, role: CallRole) -> Pricer | None:
        """The recorded price source of a role."""
        return self.original_pricers.get(role, self.original_pricers.get(CallRole.AGENT))

    def new_for(self, role: CallRole) -> Pricer | None:
        """The new price source of a role."""
        return self.new_pricers.get(role, self.new_pricers.get(CallRole.AGENT))


def _lookup_new(
    book_catalog: PriceCatalog, original: Pricer | None, role: RolePrice
) -> Pricer | None:
    """A card from the --prices file for one call role: by the original card's id, then by
    provider and model id, then by the suite's model label."""
    from roibench.pricing.cards import GENAI_PREFIX, CardPricer

    ref = original.ref if original is not None else None
    candidates: list[str] = []
    if ref:
        candidates.append(
            ref.removeprefix("card:").removeprefix("compute:").removeprefix(GENAI_PREFIX)
        )
    candidates.append(role.model)
    for card_id in candidates:
        found = book_catalog.by_id(card_id)
        if found is not None:
            return found
    found = book_catalog.by_model(role.provider, role.model_id)
    if found is not None:
        return found
    for book, origin in book_catalog.books():
        cards = [c for c in book.cards if c.model == role.model]
        if cards:
            return CardPricer(cards[:1], book_catalog.fx, origin)
    return None


def reprice_journal(
    journal: Path,
    prices: Path | None = None,
    at: str | None = None,
    value_model: Path | None = None,
) -> RepriceResult:
    """Recompute a journal's cells from its RunSpec — under `prices` (a card file), at
    another date, and/or under another value model (a TOML or YAML file with a ValueModel) —
    without calling any model. With no option, every figure is reproduced exactly."""
    from roibench.journal.store import scan_journal
    from roibench.pricing.cards import PriceCatalog, load_price_book
    from roibench.results.summary import planned_trials, summarize_tally
    from roibench.results.tally import CellTally
    from roibench.run.plan import read_run_spec

    spec = read_run_spec(journal)
    from roibench.config.value_file import load_value_models, value_model_for

    new_values = load_value_models(value_model) if value_model is not None else {}
    moment = parse_at(at) if at else None
    catalog = None
    if prices is not None:
        book = load_price_book(prices)
        catalog = PriceCatalog(
            book, user_origin=prices.name, use_bundled=False, use_genai_prices=False
        )
    cells: dict[str, _CellReprice] = {}
    for cell in spec.cells:
        write_tools = frozenset(cell.workflow.write_tools)
        originals = {r.role: (r.price.pricer() if r.price else None) for r in cell.prices}
        news = dict(originals)
        if catalog is not None:
            for r in cell.prices:
                news[r.role] = _lookup_new(catalog, originals[r.role], r) or originals[r.role]
        cells[cell.label] = _CellReprice(
            originals, news, CellTally(write_tools=write_tools), CellTally(write_tools=write_tools)
        )

    def add(trial: TrialRecord) -> None:  # one trial at a time: a long run stays out of memory
        state = cells.get(trial.cell)
        if state is None:
            raise ValueError(f"a trial of cell {trial.cell!r} but no such cell in the run spec")
        check = reprice_trial(trial, state.original_for)
        state.mismatched_calls += sum(
            a.cost_usd != b.cost_usd for a, b in zip(trial.calls, check.calls, strict=True)
        )
        state.original.add(trial)
        state.repriced.add(reprice_trial(trial, state.new_for, moment))

    scan_journal(journal, on_trial=add)
    result = RepriceResult(
        spec=spec, prices_file=prices, at=at, value_model_file=value_model, new_pricers=cells
    )
    for cell in spec.cells:
        state = cells[cell.label]
        value = cell.workflow.value_model
        original, new = state.original_for(CallRole.AGENT), state.new_for(CallRole.AGENT)
        pricing = spec.outcome_pricing
        result.cells.append(
            RepricedCell(
                label=cell.label,
                original_price=original.describe() if original else "UNPRICED",
                new_price=new.describe() if new else "UNPRICED",
                original=summarize_tally(
                    cell.label, state.original, value, pricing, seed=spec.seed
                ),
                repriced=summarize_tally(
                    cell.label,
                    state.repriced,
                    value_model_for(new_values, cell.workflow.name) or value,
                    pricing,
                    seed=spec.seed,
                ),
                new_pricer=new,
                mismatched_calls=state.mismatched_calls,
            )
        )
    for repriced in result.cells:  # as `summarize` reports it for the run itself
        planned = planned_trials(spec, repriced.label)
        repriced.original.metrics["planned_trials"] = planned
        repriced.repriced.metrics["planned_trials"] = planned
    return result


def log_reprice(result: RepriceResult, journal: Path, experiment_name: str | None = None) -> str:
    """Log the re-priced run as a new MLflow parent run with a child per cell — the same
    params, tags, tables and plots as the original (the sink reads the re-priced spec and
    trials), tagged `roibench.repriced_from=<original parent run id>` when the original is
    found by name. Returns the run id."""
    from mlflow.tracking import MlflowClient

    from roibench.journal.store import iter_trials
    from roibench.sinks.mlflow.runs import log_suite_run

    spec = result.spec
    client = MlflowClient()
    name = experiment_name or spec.suite.name
    experiment = client.get_experiment_by_name(name)
    tags = {
        "roibench.reprice": "true",
        "roibench.reprice_journal": str(journal),
        "roibench.reprice_at": result.at or "call times",
        "roibench.reprice_prices": str(result.prices_file) if result.prices_file else "original",
        "roibench.reprice_value_model": str(result.value_model_file or "original"),
    }
    if experiment is not None:
        found = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"attributes.run_name = '{spec.run_name}' and tags.roibench.suite != ''",
            max_results=50,
        )
        parents = [
            r
            for r in found
            if "mlflow.parentRunId" not in r.data.tags and "roibench.reprice" not in r.data.tags
        ]
        if parents:
            tags["roibench.repriced_from"] = parents[0].info.run_id
    moment = parse_at(result.at) if result.at else None
    states = result.new_pricers
    trials = (reprice_trial(t, states[t.cell].new_for, moment) for t in iter_trials(journal))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return log_suite_run(
        result.repriced_spec(),
        trials,
        {c.label: c.repriced for c in result.cells},
        None,
        f"{spec.run_name}-reprice-{stamp}",
        experiment_name,
        trace_sample=0.0,
        extra_tags=tags,
        run_key=f"{spec.run_key}-reprice-{stamp}",  # its own run: the original stays
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def register(app: typer.Typer) -> None:
    """Add `roibench reprice` to the CLI."""

    @app.command()
    def reprice(
        journal: Annotated[Path, typer.Argument(help="journal.jsonl of a finished run.")],
        prices: Annotated[
            Path | None, typer.Option(help="Price-card YAML whose cards replace the run's.")
        ] = None,
        at: Annotated[
            str | None,
            typer.Option(
                help="Price at another day (YYYY-MM-DD, keeps each call's time of day) "
                "or instant (ISO 8601)."
            ),
        ] = None,
        mlflow_log: Annotated[
            bool, typer.Option("--mlflow/--no-mlflow", help="Log as a new MLflow run.")
        ] = False,
        experiment: Annotated[str | None, typer.Option(help="MLflow experiment name.")] = None,
        value_model: Annotated[
            Path | None,
            typer.Option(help="Value model file (TOML/YAML/JSON): one model, or one per workflow."),
        ] = None,
    ) -> None:
        """Re-price a finished run from its journal under other cards or another date."""
        from rich.console import Console
        from rich.table import Table

        console = Console()
        err = Console(stderr=True)
        try:
            result = reprice_journal(journal, prices, at, value_model)
        except InputError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        for cell in result.cells:
            table = Table(title=cell.label, header_style="bold")
            table.add_column("metric")
            table.add_column("original", justify="right")
            table.add_column("repriced", justify="right")
            table.add_column("ratio", justify="right")
            for name in COMPARED:
                before = cell.original.metrics.get(name)
                after = cell.repriced.metrics.get(name)
                ratio = f"{after / before:.4g}" if before and after is not None else "—"
                table.add_row(name, _fmt(before), _fmt(after), ratio)
            console.print(table)
            console.print(f"  price before: {cell.original_price}", highlight=False)
            console.print(f"  price after:  {cell.new_price}", highlight=False)
            if cell.new_pricer is not None:
                fx = cell.new_pricer.params().get("fx_rate")
                if fx:
                    console.print(f"  FX: {fx}", highlight=False)
            if cell.mismatched_calls:
                err.print(
                    f"[bold yellow]warning:[/] {cell.label}: {cell.mismatched_calls} recorded "
                    "call cost(s) differ from the recorded price source's recomputation",
                    highlight=False,
                )
            if not cell.repriced.economics.priced:
                err.print(
                    f"[bold yellow]warning:[/] {cell.label} is UNPRICED after re-pricing "
                    "(cost metrics absent, not zero)",
                    highlight=False,
                )
        if mlflow_log:
            run_id = log_reprice(result, journal, experiment)
            console.print(f"MLflow: re-priced run {run_id}")
