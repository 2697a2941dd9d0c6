"""`roibench compare --paired A B`: cell B (or every cell of run B) against baseline A on the
tasks both ran, from the journals — per-task differences of success, pass^k, spend, cost per
outcome, both ROIs, harm and escalation, with intervals, permutation p-values, Holm's
correction and the minimum detectable difference. A and B are journal paths, optionally
`#cell`, or MLflow suite/cell run ids (their journal artifact is read)."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roibench.core.errors import InputError

if TYPE_CHECKING:
    from roibench.results.cells import CellTrials, JournalCells
    from roibench.results.paired import PairedComparison

RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Side:
    """One side of `--paired`: a journal's cells, and the cell named (None = the whole run)."""

    ref: str
    journal: JournalCells
    cell: str | None
    run_id: str | None
    """The MLflow suite run the journal came from, if given as a run id."""


def _journal_of_run(run_id: str, scratch: Path) -> tuple[Path, str | None, str]:
    """Download a suite (or cell) run's journal artifact; also the cell a cell run names and
    the suite run id."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise InputError(f"no MLflow run with id {run_id!r}", field="--paired") from None
    cell = run.data.tags.get("roibench.cell")
    parent = run.data.tags.get("mlflow.parentRunId") if cell else None
    suite_id = parent or run_id
    try:
        local = Path(client.download_artifacts(suite_id, "journal", str(scratch / suite_id)))
    except (MlflowException, OSError):
        raise InputError(f"run {suite_id} has no journal artifact", field="--paired") from None
    files = sorted(local.glob("*.jsonl")) if local.is_dir() else [local]
    if not files:
        raise InputError(f"run {suite_id} has no journal artifact", field="--paired")
    return files[0], cell, suite_id


def resolve_side(ref: str, scratch: Path) -> Side:
    """A journal path (`PATH[#CELL]`) or an MLflow run id (`ID[#CELL]`)."""
    from roibench.results.cells import load_journal_cells
    from roibench.run.plan import read_run_spec

    target, _, cell = ref.partition("#")
    path = Path(target)
    run_id = None
    if not path.exists() and RUN_ID.match(target):
        path, run_cell, run_id = _journal_of_run(target, scratch)
        cell = cell or run_cell or ""
    if not path.is_file():
        raise InputError("no journal (or MLflow run id) here", file=target, field="--paired")
    journal = load_journal_cells(path, read_run_spec(path))
    if cell and cell not in journal.cells:
        known = ", ".join(journal.cells) or "none"
        raise InputError(f"no cell {cell!r} in the journal (cells: {known})", file=path)
    return Side(ref, journal, cell or None, run_id)


def pairs_of(a: Side, b: Side) -> list[tuple[CellTrials, CellTrials]]:
    """Which cells to compare: a cell against a cell; a cell against every other cell of a
    run; two runs cell by cell of the same label (or their only cells)."""
    same = a.journal.path.resolve() == b.journal.path.resolve()
    if a.cell and b.cell:
        return [(a.journal.cells[a.cell], b.journal.cells[b.cell])]
    if a.cell or b.cell:
        base, other = (a, b) if a.cell else (b, a)
        assert base.cell is not None
        others = [
            c for label, c in other.journal.cells.items() if not (same and label == base.cell)
        ]
        if not others:
            raise InputError("nothing to compare the cell with", field="--paired")
        pairs = [(base.journal.cells[base.cell], c) for c in others]
        return pairs if a.cell else [(x, y) for y, x in pairs]
    if same:
        raise InputError(
            "both sides are the same run: name a baseline cell (JOURNAL#CELL)", field="--paired"
        )
    common = [label for label in a.journal.cells if label in b.journal.cells]
    if common:
        return [(a.journal.cells[label], b.journal.cells[label]) for label in common]
    if len(a.journal.cells) == 1 and len(b.journal.cells) == 1:
        return [(next(iter(a.journal.cells.values())), next(iter(b.journal.cells.values())))]
    raise InputError(
        "the runs share no cell label: name the cells (JOURNAL#CELL)", field="--paired"
    )


def agents_on_the_simulator(a: Side, b: Side, comparisons: list[PairedComparison]) -> bool:
    """Whether a pair differs only in agent (cells are 'workflow/agent/model') with both cells
    on the built-in simulator, whose acting-model behaviour does not depend on the agent."""

    def simulated(side: Side, label: str) -> bool:
        cells = {c.label: c for c in side.journal.spec.cells}
        return label in cells and cells[label].simulated

    for c in comparisons:
        pa, pb = c.a.split("/", 2), c.b.split("/", 2)
        agent_only = len(pa) == len(pb) == 3 and (pa[0], pa[2]) == (pb[0], pb[2])
        if agent_only and pa[1] != pb[1] and simulated(a, c.a) and simulated(b, c.b):
            return True
    return False


def run_comparisons(
    a: Side,
    b: Side,
    *,
    force: bool,
    seed: int | None,
    resamples: int,
    permutations: int,
) -> list[PairedComparison]:
    """Every pair, Holm-adjusted across them."""
    from roibench.results.paired import adjust_holm, compare_cells

    found = [
        compare_cells(
            x, y, seed=a.journal.seed if seed is None else seed, resamples=resamples,
            permutations=permutations, force=force,
        )
        for x, y in pairs_of(a, b)
    ]  # fmt: skip
    return adjust_holm(found)


PERCENT = {"success_rate", "pass_hat_k", "escalation_rate"}
USD = {"cost_per_task_usd", "cost_per_outcome_usd", "harm_per_trial_usd"}
COLUMNS = ("pair", "metric", "a", "b", "delta", "ci_low", "ci_high", "p_value", "p_holm", "mdd")


def fmt(metric: str, value: float | None, *, signed: bool = False, points: bool = False) -> str:
    """A figure for the table: percent for rates (points for their differences), dollars for
    money, plain for ratios."""
    if value is None:
        return "—"
    sign = "+" if signed else ""
    if metric in PERCENT:
        return f"{value * 100:{sign}.1f}" + (" pt" if signed or points else "%")
    if metric in USD:
        return f"{'-' if value < 0 else ('+' if signed else '')}${abs(value):,.4f}"
    return f"{value:{sign},.3f}"


def fmt_p(p: float | None) -> str:
    """A p-value."""
    if p is None:
        return "—"
    return f"{p:.4f}" if p >= 0.0001 else f"{p:.1e}"


def rows(comparisons: list[PairedComparison]) -> list[dict[str, Any]]:
    """One row per (pair, figure) for CSV (raw numbers)."""
    out = []
    for c in comparisons:
        for f in c.figures:
            out.append({
                "pair": c.name, "a": c.a, "b": c.b, "metric": f.metric, "a_value": f.a,
                "b_value": f.b, "delta": f.delta, "ci_low": f.ci_low, "ci_high": f.ci_high,
                "p_value": f.p_value, "p_holm": f.p_holm, "mdd": f.mdd, "tasks": c.tasks,
                "k": c.k, "trials_a": c.trials_a, "trials_b": c.trials_b, "seed": c.seed,
                "resamples": c.resamples, "permutations": c.permutations,
                "forced": c.forced, "differences": "; ".join(c.differences),
            })  # fmt: skip
    return out


def text_rows(c: PairedComparison) -> list[list[str]]:
    """The figures of one pair as formatted cells (COLUMNS order, pair column first)."""
    out = []
    for f in c.figures:
        metric = f"pass_hat_{c.k}" if f.metric == "pass_hat_k" else f.metric
        out.append([
            c.name, metric, fmt(f.metric, f.a), fmt(f.metric, f.b),
            fmt(f.metric, f.delta, signed=True),
            fmt(f.metric, f.ci_low, signed=True), fmt(f.metric, f.ci_high, signed=True),
            fmt_p(f.p_value), fmt_p(f.p_holm), fmt(f.metric, f.mdd, points=True),
        ])  # fmt: skip
    return out


def notes(c: PairedComparison) -> list[str]:
    """What a reader must know about one pair: design, MDD, forced pairing, unchecked digests."""
    flips = f"all {c.permutations}" if c.exact else str(c.permutations)
    out = [
        f"{c.name}: {c.tasks} common tasks, {c.trials_a} / {c.trials_b} trials, "
        f"pass^k at k = {c.k}; Δ = B − A; 95% paired task-bootstrap intervals "
        f"({c.resamples} resamples, seed {c.seed}); sign-flip p-values "
        f"({flips} flips)"
    ]
    succ = c.figure("success_rate")
    if succ is not None and succ.mdd is not None:
        out.append(
            f"  minimum detectable success difference at 80% power, α = 0.05: "
            f"{succ.mdd * 100:.1f} points — a smaller real difference would likely go unseen"
        )
    if c.forced:
        out.append("  FORCED (--force) despite: " + "; ".join(c.differences))
    if c.unchecked:
        out.append("  not recorded in the journals, so not checked: " + ", ".join(c.unchecked))
    return out


def to_markdown(comparisons: list[PairedComparison]) -> str:
    """Markdown table plus the notes."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * (len(COLUMNS) - 2)]
    for c in comparisons:
        lines += ["| " + " | ".join(r) + " |" for r in text_rows(c)]
    lines.append("")
    for c in comparisons:
        lines += [n.strip() + "  " for n in notes(c)]
    return "\n".join(lines) + "\n"


def to_csv(comparisons: list[PairedComparison]) -> str:
    """Every figure of every pair, raw numbers."""
    data = rows(comparisons)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(data[0]) if data else list(COLUMNS))
    writer.writeheader()
    writer.writerows(data)
    return buf.getvalue()


def rich_table(comparisons: list[PairedComparison]) -> Any:
    """The terminal table."""
    from rich.table import Table

    table = Table(title="Paired comparison (Δ = B − A)", header_style="bold")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("pair", "metric") else "right")
    for i, c in enumerate(comparisons):
        for r in text_rows(c):
            table.add_row(*r)
        if i < len(comparisons) - 1:
            table.add_section()
    return table


def paired_main(
    a_ref: str,
    b_ref: str,
    *,
    force: bool,
    seed: int | None,
    resamples: int,
    permutations: int,
    fmt_name: str,
    output: Path | None,
    log_mlflow: bool,
    experiment: str | None,
) -> None:
    """The command body (errors as InputError for the caller to report)."""
    from rich.console import Console

    err = Console(stderr=True)
    with tempfile.TemporaryDirectory() as scratch:
        a = resolve_side(a_ref, Path(scratch))
        b = resolve_side(b_ref, Path(scratch))
        comparisons = run_comparisons(
            a, b, force=force, seed=seed, resamples=resamples, permutations=permutations
        )
    if fmt_name == "csv":
        text = to_csv(comparisons)
    elif fmt_name == "markdown":
        text = to_markdown(comparisons)
    else:
        console = Console(record=True, width=200, file=io.StringIO())
        console.print(rich_table(comparisons))
        for c in comparisons:
            for line in notes(c):
                console.print(line, highlight=False, soft_wrap=True)
        text = console.export_text()
    if agents_on_the_simulator(a, b, comparisons):
        from roibench.sim.profiles import AGENTS_ON_THE_SIMULATOR

        err.print(f"[bold yellow]note:[/] {AGENTS_ON_THE_SIMULATOR}", highlight=False,
                  soft_wrap=True)  # fmt: skip
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output} ({len(comparisons)} pair(s))", highlight=False)
    if log_mlflow:
        from roibench.sinks.mlflow.comparison import log_comparisons

        name = experiment or a.journal.spec.suite.name
        run_id = log_comparisons(
            comparisons, name, sources=list(dict.fromkeys(s.run_id for s in (a, b) if s.run_id))
        )
        err.print(f"MLflow: comparison run {run_id} in experiment '{name}'", highlight=False)
