"""`roibench compare`: cells of one or more runs side by side, read back from the tracking
server, sortable by any metric, as a terminal table, CSV or Markdown."""

from __future__ import annotations

import io
import math
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

DEFAULT_COLUMNS = (
    "run",
    "cell",
    "success_rate",
    "success_rate_ci_low",
    "success_rate_ci_high",
    "pass_hat_k",
    "cost_per_outcome_usd",
    "roi_token_pricing",
    "roi_outcome_pricing",
    "spend_usd",
    "simulated",
)
"""Columns of the table and Markdown output (CSV has every metric)."""
ID_COLUMNS = (
    "run", "run_id", "parent_run_id", "cell", "workflow", "agent", "model", "k", "simulated",
    "experiment",
)  # fmt: skip
FORMATS = ("table", "csv", "markdown")


class CompareError(Exception):
    """A bad selection (unknown experiment, run or metric)."""


def _cell_rows(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "tags.roibench.cell" not in frame.columns:
        return frame.iloc[0:0]
    return cast("pd.DataFrame", frame.loc[frame["tags.roibench.cell"].notna()])


def select_cell_runs(
    client: MlflowClient, experiments: list[str], run_ids: list[str]
) -> pd.DataFrame:
    """Cell (child) runs of the given experiments and runs, as `mlflow.search_runs` rows. A
    suite (parent) run id selects its cells; neither selects every experiment."""
    import mlflow
    import pandas as pd

    parts: list[pd.DataFrame] = []
    if experiments:
        for name in experiments:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise CompareError(f"no experiment named {name!r}")
            found = mlflow.search_runs([exp.experiment_id], output_format="pandas")
            assert isinstance(found, pd.DataFrame)
            parts.append(_cell_rows(found))
    for run_id in run_ids:
        try:
            run = client.get_run(run_id)
        except Exception:
            raise CompareError(f"no run with id {run_id!r}") from None
        found = mlflow.search_runs(
            [run.info.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'",
            output_format="pandas",
        )
        assert isinstance(found, pd.DataFrame)
        if "roibench.cell" in run.data.tags:  # a cell run itself
            found = mlflow.search_runs(
                [run.info.experiment_id],
                filter_string=f"attributes.run_id = '{run_id}'",
                output_format="pandas",
            )
            assert isinstance(found, pd.DataFrame)
        found = _cell_rows(found)
        if found.empty:
            raise CompareError(f"run {run_id} is not a roibench suite or cell run")
        parts.append(found)
    if not experiments and not run_ids:
        found = mlflow.search_runs(search_all_experiments=True, output_format="pandas")
        assert isinstance(found, pd.DataFrame)
        parts.append(_cell_rows(found))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame()
    frame = pd.concat(parts, ignore_index=True)
    return frame.drop_duplicates(subset="run_id").reset_index(drop=True)


def comparison_frame(client: MlflowClient, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: run and cell names, k, simulated flag, every metric, and pass_hat_k
    (pass^k at the cell's own k)."""
    import pandas as pd

    if runs.empty:
        return pd.DataFrame(columns=list(DEFAULT_COLUMNS))
    parents: dict[str, str] = {}
    rows = []
    for r in cast(list[dict[str, Any]], runs.to_dict("records")):
        parent_id = r.get("tags.mlflow.parentRunId")
        parent_id = parent_id if isinstance(parent_id, str) else ""
        if parent_id and parent_id not in parents:
            try:
                parents[parent_id] = client.get_run(parent_id).info.run_name or parent_id
            except Exception:
                parents[parent_id] = parent_id
        k_raw = r.get("params.trials")
        k = int(k_raw) if isinstance(k_raw, str) and k_raw.isdigit() else None
        row: dict[str, Any] = {
            "run": parents.get(parent_id, ""),
            "run_id": r["run_id"],
            "parent_run_id": parent_id,
            "cell": r["tags.roibench.cell"],
            "workflow": r.get("params.workflow"),
            "agent": r.get("params.agent"),
            "model": r.get("params.model"),
            "k": k,
            "simulated": r.get("tags.roibench.simulated") == "true",
            "experiment": r["experiment_id"],
        }
        for col in runs.columns:
            if col.startswith("metrics."):
                value = r[col]
                row[col.removeprefix("metrics.")] = (
                    None
                    if value is None or (isinstance(value, float) and math.isnan(value))
                    else float(value)
                )
        row["pass_hat_k"] = row.get(f"pass_hat_{k}") if k else None
        rows.append(row)
    frame = pd.DataFrame(rows)
    metrics = sorted(c for c in frame.columns if c not in ID_COLUMNS)
    return cast("pd.DataFrame", frame[[c for c in ID_COLUMNS if c in frame.columns] + metrics])


def agents_compared_on_the_simulator(frame: pd.DataFrame) -> list[str]:
    """Simulated cells that share workflow and model with another simulated cell and differ
    only in agent (cells are named workflow/agent/model)."""
    if frame.empty or "simulated" not in frame.columns:
        return []
    groups: dict[tuple[str, str], set[str]] = {}
    cells: dict[tuple[str, str], list[str]] = {}
    for cell, simulated in zip(frame["cell"], frame["simulated"], strict=True):
        parts = str(cell).split("/", 2)
        if not simulated or len(parts) < 3:
            continue
        key = (parts[0], parts[2])
        groups.setdefault(key, set()).add(parts[1])
        cells.setdefault(key, []).append(str(cell))
    return sorted(c for key, agents in groups.items() if len(agents) > 1 for c in cells[key])


def sort_frame(frame: pd.DataFrame, metric: str, ascending: bool) -> pd.DataFrame:
    """Sorted by `metric`; cells without it go last."""
    if metric not in frame.columns:
        known = ", ".join(c for c in frame.columns if c not in ID_COLUMNS)
        raise CompareError(f"unknown metric {metric!r}; known: {known}")
    return frame.sort_values(
        [metric, "run", "cell"], ascending=[ascending, True, True], na_position="last"
    ).reset_index(drop=True)


def plain_number(value: float) -> str:
    """A float in plain decimal notation, every digit it holds (never "1.2e-05"): the one
    number format of the CSV export; whole numbers without a fraction."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def _fmt(value: Any) -> str:
    """A table or Markdown cell: four significant figures in plain notation ("0.002010",
    "7.090"), thousands separated above 1,000; never scientific notation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0 or math.isinf(value):
            return plain_number(value)
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        decimals = max(0, 3 - math.floor(math.log10(abs(value))))
        return f"{value:.{decimals}f}"
    return str(value)


def to_csv(frame: pd.DataFrame) -> str:
    """Every column, numbers in one plain format (see `plain_number`), empty when absent."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if col in ID_COLUMNS:
            continue
        out[col] = [
            "" if v is None or (isinstance(v, float) and math.isnan(v))
            else plain_number(float(v)) if isinstance(v, int | float) and not isinstance(v, bool)
            else v
            for v in out[col]
        ]  # fmt: skip
    assert isinstance(out, pd.DataFrame)
    return out.to_csv(index=False)


def to_markdown(frame: pd.DataFrame, columns: list[str]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if c in ID_COLUMNS else "---:" for c in columns) + "|",
    ]
    for _, row in frame.iterrows():
        cells = [_fmt(row.get(c)).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_rich_table(frame: pd.DataFrame, columns: list[str], title: str) -> Any:
    """A rich Table for the terminal."""
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for c in columns:
        table.add_column(c, justify="left" if c in ID_COLUMNS else "right", overflow="fold")
    for _, row in frame.iterrows():
        table.add_row(*(_fmt(row.get(c)) for c in columns))
    return table


def compare(
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Experiment name (repeatable).")
    ] = None,
    run: Annotated[
        list[str] | None,
        typer.Option("--run", "-r", help="Suite or cell run id (repeatable)."),
    ] = None,
    sort: Annotated[str, typer.Option(help="Metric to sort by.")] = "success_rate",
    ascending: Annotated[bool, typer.Option("--ascending/--descending", help="Order.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or markdown.")] = "table",
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Extra column (repeatable).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    paired: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--paired",
            help="Paired test of B against baseline A on their common tasks, from the "
            "journals: JOURNAL[#CELL] or MLflow run id (a whole run pairs its cells).",
            metavar="A B",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="--paired: pair despite differing tasks/digests (recorded).")
    ] = False,
    seed: Annotated[
        int | None, typer.Option(help="--paired: bootstrap seed (default: the run's).")
    ] = None,
    resamples: Annotated[int, typer.Option(min=100, help="--paired: bootstrap resamples.")] = 1000,
    permutations: Annotated[
        int, typer.Option(min=99, help="--paired: random sign flips for the p-value.")
    ] = 9999,
    log_mlflow: Annotated[
        bool,
        typer.Option("--mlflow/--no-mlflow", help="--paired: log a comparison run to MLflow."),
    ] = False,
) -> None:
    """Compare cells across runs from the tracking server ($MLFLOW_TRACKING_URI), or two
    cells/runs task by task from their journals (--paired)."""
    from rich.console import Console

    from roibench.core.errors import InputError
    from roibench.sinks.mlflow.lookup import require_tracking_store

    err = Console(stderr=True)
    if fmt not in FORMATS:
        err.print(f"[bold red]error:[/] --format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    if paired is not None:
        from roibench.cli.paired import paired_main

        try:
            paired_main(
                paired[0], paired[1], force=force, seed=seed, resamples=resamples,
                permutations=permutations, fmt_name=fmt, output=output, log_mlflow=log_mlflow,
                experiment=(experiment or [None])[0],
            )  # fmt: skip
        except InputError as exc:
            from rich.markup import escape

            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        return
    try:
        require_tracking_store()  # never a new, empty store where none is
    except InputError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    from mlflow import MlflowClient

    client = MlflowClient()
    try:
        runs = select_cell_runs(client, experiment or [], run or [])
        frame = comparison_frame(client, runs)
        if frame.empty:
            err.print("[bold yellow]no roibench cell runs found[/]")
            raise typer.Exit(1)
        frame = sort_frame(frame, sort, ascending)
        for name in metric or []:
            if name not in frame.columns:
                raise CompareError(f"unknown metric {name!r}")
    except CompareError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    same_behaviour = agents_compared_on_the_simulator(frame)
    if same_behaviour:
        from roibench.sim.profiles import AGENTS_ON_THE_SIMULATOR

        # on stderr, so CSV and Markdown output stay clean
        err.print(
            f"[bold yellow]note:[/] {len(same_behaviour)} {AGENTS_ON_THE_SIMULATOR}",
            highlight=False,
            soft_wrap=True,
        )
    columns = [c for c in DEFAULT_COLUMNS if c in frame.columns]
    columns += [m for m in metric or [] if m not in columns]
    if sort not in columns:
        columns.insert(2, sort)
    if fmt == "csv":
        text = to_csv(frame)
    elif fmt == "markdown":
        text = to_markdown(frame, columns)
    else:
        title = f"{len(frame)} cell(s), sorted by {sort}"
        if output is None:
            Console(width=max(Console().width, 160)).print(to_rich_table(frame, columns, title))
            return
        console = Console(record=True, width=220, file=io.StringIO())
        console.print(to_rich_table(frame, columns, title))
        text = console.export_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        Console(stderr=True).print(f"wrote {output} ({len(frame)} cells)")


def register(app: typer.Typer) -> None:
    """Add `compare` to the CLI."""
    app.command(name="compare")(compare)
