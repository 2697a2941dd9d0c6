"""`roibench reprice JOURNAL`: recompute every cost and economic metric of a finished run under
other price cards or another date, from the journal alone, without calling any model.

The journal header records each cell's price source in full (cards and FX rates, or the
genai-prices reference), its value model and the outcome pricing, so re-pricing with no
options reproduces the original numbers exactly. Heavy imports stay inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roibench.core.errors import InputError

if TYPE_CHECKING:
    from roibench.core.records import TrialRecord
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

    header: dict[str, Any]
    cells: list[RepricedCell] = field(default_factory=list)
    prices_file: Path | None = None
    at: str | None = None


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


def reprice_trial(
    trial: TrialRecord, pricer: Pricer | None, at: date | datetime | None = None
) -> TrialRecord:
    """The trial with every call's cost recomputed by `pricer` (None: unpriced). A failed
    request is not billed: $0 when priced, as the run recorded it."""
    from roibench.pricing.cards import call_cost_usd

    calls = []
    total: Decimal | None = Decimal(0)
    for call in trial.calls:
        if pricer is None:
            cost = None
        elif call.error is not None:
            cost = Decimal(0)
        else:
            cost = call_cost_usd(call.usage, pricer, call_time(call.started_at, at))
        calls.append(call.model_copy(update={"cost_usd": cost}))
        total = None if total is None or cost is None else total + cost
    return trial.model_copy(update={"calls": tuple(calls), "cost_usd": total})


@dataclass
class _CellReprice:
    """One cell's price sources and running tallies while the journal streams by."""

    original_pricer: Pricer | None
    new_pricer: Pricer | None
    original: CellTally
    repriced: CellTally
    mismatched_calls: int = 0


def _lookup_new(
    book_catalog: PriceCatalog, original: Pricer | None, cell: dict[str, Any]
) -> Pricer | None:
    """A card from the --prices file for this cell: by the original card's id, then by
    provider and model id, then by the suite's model label."""
    from roibench.pricing.cards import GENAI_PREFIX

    ref = original.ref if original is not None else None
    candidates: list[str] = []
    if ref:
        candidates.append(ref.removeprefix("card:").removeprefix(GENAI_PREFIX))
    candidates.append(str(cell.get("model", "")))
    for card_id in candidates:
        found = book_catalog.by_id(card_id)
        if found is not None:
            return found
    found = book_catalog.by_model(str(cell.get("provider", "")), str(cell.get("model_id", "")))
    if found is not None:
        return found
    for book, origin in book_catalog.books():
        cards = [c for c in book.cards if c.model == cell.get("model")]
        if cards:
            from roibench.pricing.cards import CardPricer

            return CardPricer(cards[:1], book_catalog.fx, origin)
    return None


def reprice_journal(
    journal: Path, prices: Path | None = None, at: str | None = None
) -> RepriceResult:
    """Recompute a journal's cells under `prices` (a card file) and/or at another date."""
    from roibench.config.value import OutcomePricing, ValueModel
    from roibench.journal.store import read_header, scan_journal
    from roibench.pricing.cards import PriceCatalog, load_price_book, pricer_from_snapshot
    from roibench.results.summary import summarize_tally
    from roibench.results.tally import CellTally

    header = read_header(journal)
    econ = header.get("economics")
    if not isinstance(econ, dict):
        raise InputError(
            "the journal header has no 'economics' record (written by an older roibench); "
            "it cannot be re-priced",
            file=journal,
            line=1,
        )
    pricing = OutcomePricing.model_validate(econ["outcome_pricing"])
    seed = int(econ.get("bootstrap_seed", header.get("seed", 0)))
    moment = parse_at(at) if at else None
    catalog = None
    if prices is not None:
        book = load_price_book(prices)
        catalog = PriceCatalog(
            book, user_origin=prices.name, use_bundled=False, use_genai_prices=False
        )
    cells: dict[str, _CellReprice] = {}
    for label, cell in econ["cells"].items():
        write_tools = frozenset(cell.get("write_tools", ()))
        original = pricer_from_snapshot(cell["price"]) if cell.get("price") else None
        new = original
        if catalog is not None:
            new = _lookup_new(catalog, original, cell) or original
        cells[label] = _CellReprice(
            original, new, CellTally(write_tools=write_tools), CellTally(write_tools=write_tools)
        )

    def add(trial: TrialRecord) -> None:  # one trial at a time: a long run stays out of memory
        state = cells.get(trial.cell)
        if state is None:
            raise ValueError(f"a trial of cell {trial.cell!r} but no such cell in the header")
        check = reprice_trial(trial, state.original_pricer)
        state.mismatched_calls += sum(
            a.cost_usd != b.cost_usd for a, b in zip(trial.calls, check.calls, strict=True)
        )
        state.original.add(trial)
        state.repriced.add(reprice_trial(trial, state.new_pricer, moment))

    scan_journal(journal, on_trial=add)
    result = RepriceResult(header=header, prices_file=prices, at=at)
    for label, state in cells.items():
        value = ValueModel.model_validate(econ["cells"][label]["value_model"])
        original, new = state.original_pricer, state.new_pricer
        result.cells.append(
            RepricedCell(
                label=label,
                original_price=original.describe() if original else "UNPRICED",
                new_price=new.describe() if new else "UNPRICED",
                original=summarize_tally(label, state.original, value, pricing, seed=seed),
                repriced=summarize_tally(label, state.repriced, value, pricing, seed=seed),
                new_pricer=new,
                mismatched_calls=state.mismatched_calls,
            )
        )
    return result


def log_reprice(result: RepriceResult, journal: Path, experiment_name: str | None = None) -> str:
    """Log the re-priced cells as a new MLflow parent run with a child per cell, tagged with the
    original run (`roibench.repriced_from`) when it is found by name. Returns the run id."""
    import time

    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    from roibench import __version__

    client = MlflowClient()
    header = result.header
    name = experiment_name or str(header.get("suite", "roibench"))
    experiment = client.get_experiment_by_name(name)
    experiment_id = (
        experiment.experiment_id if experiment is not None else client.create_experiment(name)
    )
    original_name = str(
        header.get("run_name") or f"{header.get('suite')}-{header.get('started_at')}"
    )
    found = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.run_name = '{original_name}' and tags.roibench.suite != ''",
        max_results=50,
    )
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    tags = {
        "roibench.version": __version__,
        "roibench.suite": str(header.get("suite", "")),
        "roibench.reprice": "true",
        "roibench.reprice_of": original_name,
        "roibench.reprice_journal": str(journal),
        "roibench.reprice_at": result.at or "call times",
        "roibench.reprice_prices": str(result.prices_file) if result.prices_file else "original",
    }
    if parents:
        tags["roibench.repriced_from"] = parents[0].info.run_id
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    parent = client.create_run(
        experiment_id, run_name=f"{original_name}-reprice-{stamp}", tags=tags
    )
    pid = parent.info.run_id
    now = int(time.time() * 1000)
    try:
        for cell in result.cells:
            params = {"cell": cell.label, "original_price": cell.original_price[:500]}
            if cell.new_pricer is not None:
                params.update({k: v[:500] for k, v in cell.new_pricer.params().items()})
            else:
                params["price_card"] = "UNPRICED"
            child = client.create_run(
                experiment_id,
                run_name=cell.label,
                tags={**tags, "mlflow.parentRunId": pid, "roibench.cell": cell.label},
            )
            client.log_batch(
                child.info.run_id,
                params=[Param(k, v) for k, v in params.items()],
                metrics=[Metric(k, v, now, 0) for k, v in cell.repriced.metrics.items()],
                tags=[RunTag("roibench.priced", str(cell.repriced.economics.priced).lower())],
            )
            client.set_terminated(child.info.run_id, "FINISHED")
        client.set_terminated(pid, "FINISHED")
    except BaseException:
        client.set_terminated(pid, "FAILED")
        raise
    return pid


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
    ) -> None:
        """Re-price a finished run from its journal under other cards or another date."""
        from rich.console import Console
        from rich.table import Table

        console = Console()
        err = Console(stderr=True)
        try:
            result = reprice_journal(journal, prices, at)
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
