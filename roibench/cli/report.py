"""`roibench report RUN_ID`: one self-contained HTML file for a suite run, read back from the
tracking server — tables, the run's plots as data URIs, method notes. No scripts, no external
styles, fonts or images: it opens offline and can be mailed as is."""

from __future__ import annotations

import base64
import html
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from roibench.results.paired import PairedComparison

PLOT_TITLES = {
    "success_vs_cost_per_outcome.png": "Success rate vs cost per successful outcome",
    "roi_vs_outcome_price.png": "Buyer ROI vs outcome price, per cell",
    "pass_hat_k.png": "Reliability: pass^k",
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1180px;color:#1f272d;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #dde;
padding-bottom:.2rem}.meta{color:#5f7281;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0;width:100%}
th,td{border:1px solid #dde;padding:.3rem .45rem;text-align:right;vertical-align:top}
th{background:#f3f5f7}td.l,th.l{text-align:left}
.banner{background:#fff4d6;border:2px solid #e0a800;padding:.8rem 1rem;margin:1rem 0;
font-weight:600}.unpriced{color:#b00020;font-weight:600}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #dde}
figcaption{color:#5f7281;font-size:.85rem}code{background:#f3f5f7;padding:0 .2rem}
"""

METHOD_NOTES = [
    (
        "Success rate",
        "resolved trials / all trials of the cell (N tasks × k trials). The 95% interval "
        "counts the k trials of a task as one cluster: Wilson's interval at the effective "
        "sample size p(1 − p) / V_CR, with V_CR the cluster-robust variance and Student's t on "
        "N − 1 degrees of freedom (the naive pooled Wilson interval is logged as "
        "success_rate_wilson_pooled_ci_*).",
    ),
    (
        "ICC, MDD",
        "ICC = ω² / (ω² + σ²): between-task variance of the success indicator over the total. "
        "MDD: the smallest success-rate difference a paired comparison of this design (N "
        "tasks, k trials) with a like cell would detect at 80% power and α = 0.05: "
        "(t + t) · sqrt(2 (ω² + σ²/k) / N).",
    ),
    (
        "Paired comparisons",
        "Δ = B − A on the tasks both cells ran; 95% paired task-bootstrap interval (each task "
        "with its trials in both cells, expanded percentile); two-sided sign-flip permutation "
        "p-value; Holm's correction across the pairs shown. A difference smaller than the MDD "
        "would likely go unseen: 'not significant' is not 'no difference'.",
    ),
    (
        "pass^k",
        "mean over tasks of C(c, k) / C(n, k), c = resolved trials of the task out of n: "
        "the chance that k independent tries all succeed.",
    ),
    (
        "Spend",
        "Σ price(call) over every call, failed trials and retries included, at each call's "
        "timestamp. A cell with an unpriced call is UNPRICED: its cost figures are absent, "
        "never 0.",
    ),
    (
        "Cost per outcome",
        "spend / resolved trials (undefined with no resolution); 95% bootstrap "
        "interval over tasks, each task with its k trials.",
    ),
    (
        "Buyer ROI",
        "(all-human baseline − buyer total) / what the buyer pays the AI: the spend "
        "under per-token pricing, the outcome fees under outcome pricing. The buyer total adds "
        "people finishing escalations and failures and the measured loss of harmful outcomes.",
    ),
    (
        "Price corridor",
        "outcome prices p with cost per outcome ≤ p (the vendor is not losing "
        "money) and buyer ROI ≥ 0.",
    ),
    (
        "Grading",
        "deterministic and state-based: the end state of the task's systems against the "
        "expected one, plus required facts in the reply; never an LLM judge.",
    ),
]

COLUMNS = [  # (metric, header, kind)
    ("success_rate", "success", "pct"),
    ("pass_hat_k", "pass^k", "ratio"),
    ("escalation_rate", "escalated", "pct"),
    ("failure_rate", "failed", "pct"),
    ("harm_rate", "harmful", "pct"),
    ("error_rate", "error", "pct"),
    ("harness_error_rate", "harness error", "pct"),
    ("spend_usd", "spend", "usd"),
    ("cost_per_outcome_usd", "cost / outcome", "usd"),
    ("roi_token_pricing", "ROI per-token", "ratio"),
    ("roi_outcome_pricing", "ROI outcome", "ratio"),
    ("vendor_margin_outcome", "vendor margin", "pct"),
    ("latency_p50_s", "latency p50 s", "ratio"),
    ("success_icc", "ICC", "ratio"),
    ("mdd_success_rate", "MDD success", "pct"),
]


def _esc(value: Any) -> str:
    from roibench.core.secrets import redact

    return html.escape(redact(str(value)), quote=True)  # every text the report shows


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "usd":
        return f"${value:,.4f}" if abs(value) < 100 else f"${value:,.2f}"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.3f}"


def _ci(m: dict[str, float], name: str, kind: str) -> str:
    low, high = m.get(f"{name}_ci_low"), m.get(f"{name}_ci_high")
    if low is None or high is None:
        return ""
    return f"<br><small>({_fmt(low, kind)} – {_fmt(high, kind)})</small>"


def resolve_suite_run(client: MlflowClient, run_id: str) -> tuple[Run, list[Run]]:
    """The suite (parent) run for a suite or cell run id, and its cell runs."""
    run = client.get_run(run_id)
    parent_id = run.data.tags.get("mlflow.parentRunId")
    if parent_id and "roibench.cell" in run.data.tags:
        run = client.get_run(parent_id)
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
    )
    cells = sorted(
        (c for c in children if "roibench.cell" in c.data.tags), key=lambda c: c.info.run_name or ""
    )
    return run, cells


def plot_images(client: MlflowClient, run_id: str) -> dict[str, bytes]:
    """The suite run's PNG plots by file name (empty when it has none)."""
    names = [a.path for a in client.list_artifacts(run_id, "plots") if a.path.endswith(".png")]
    if not names:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(run_id, "plots", tmp))
        return {Path(n).name: (local / Path(n).name).read_bytes() for n in names}


def cell_table(cells: list[Run]) -> str:
    """The results table: one row per cell, intervals under the figures."""
    head = "".join(f"<th>{_esc(h)}</th>" for _, h, _ in COLUMNS)
    rows = []
    for c in cells:
        m = dict(c.data.metrics)
        k = c.data.params.get("trials", "")
        if k.isdigit() and f"pass_hat_{k}" in m:
            m["pass_hat_k"] = m[f"pass_hat_{k}"]
        priced = c.data.tags.get("roibench.priced", "true") == "true"
        tds = []
        for name, _, kind in COLUMNS:
            if kind == "usd" and not priced:
                tds.append('<td class="unpriced">UNPRICED</td>')
                continue
            tds.append(f"<td>{_fmt(m.get(name), kind)}{_ci(m, name, kind)}</td>")
        label = _esc(c.data.tags.get("roibench.cell", c.info.run_name))
        rows.append(
            f'<tr><td class="l">{label}<br><small>k = {_esc(k)}</small></td>'
            + "".join(tds)
            + "</tr>"
        )
    return f'<table><tr><th class="l">cell</th>{head}</tr>{"".join(rows)}</table>'


def setup_table(cells: list[Run]) -> str:
    """Per cell: model, provider, price card and its source, dataset and hash, value model."""
    keys = [
        ("model_id", "model id"),
        ("provider", "provider"),
        ("price_card", "price card"),
        ("price_source", "price source"),
        ("dataset", "dataset"),
        ("dataset_hash", "dataset hash"),
        ("tasks", "tasks"),
        ("value_human_cost_usd", "human cost / task (USD)"),
        ("value_source", "human cost source"),
    ]
    head = "".join(f'<th class="l">{_esc(h)}</th>' for _, h in keys)
    rows = []
    for c in cells:
        p = c.data.params
        tds = "".join(f'<td class="l">{_esc(p.get(k, "—"))}</td>' for k, _ in keys)
        rows.append(f'<tr><td class="l">{_esc(c.info.run_name)}</td>{tds}</tr>')
    return f'<table><tr><th class="l">cell</th>{head}</tr>{"".join(rows)}</table>'


MAX_ALL_PAIRS = 6
"""Up to this many cells, the report compares every pair; beyond, each against the first."""


def journal_comparisons(client: MlflowClient, run_id: str) -> list[PairedComparison] | str:
    """Paired comparisons of the suite run's cells, from its journal artifact; or why not."""
    from itertools import combinations

    from roibench.core.errors import InputError
    from roibench.results.cells import load_journal_cells
    from roibench.results.paired import adjust_holm, compare_cells
    from roibench.run.plan import read_run_spec

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = Path(client.download_artifacts(run_id, "journal", tmp))
        except Exception:
            return "This run has no journal artifact: no paired comparison."
        files = sorted(local.glob("*.jsonl")) if local.is_dir() else [local]
        if not files:
            return "This run has no journal artifact: no paired comparison."
        try:
            journal = load_journal_cells(files[0], read_run_spec(files[0]))
        except InputError as exc:
            return f"The journal could not be read ({exc.detail})."
    cells = list(journal.cells.values())
    if len(cells) < 2:
        return "One cell: nothing to compare."
    if len(cells) <= MAX_ALL_PAIRS:
        pairs = list(combinations(cells, 2))
    else:
        pairs = [(cells[0], c) for c in cells[1:]]
    found = []
    for a, b in pairs:
        try:
            found.append(compare_cells(a, b, seed=journal.seed))
        except InputError:
            continue  # not comparable (different tasks or workflow): not shown
    return adjust_holm(found) if found else "No two cells ran the same tasks."


def paired_section(paired: list[PairedComparison] | str | None) -> list[str]:
    """'Is the difference real?': per pair Δ with interval, p-values and MDD, and the forest
    plot."""
    if paired is None:
        return []
    parts = ["<h2>Is the difference real?</h2>"]
    if isinstance(paired, str):
        return [*parts, f"<p>{_esc(paired)}</p>"]
    from roibench.sinks.plots import forest_plot

    head = "".join(f"<th>{h}</th>" for h in ("Δ (B − A)", "95% interval", "p", "p (Holm)", "MDD"))
    rows = []
    for c in paired:
        for metric, label, kind in PAIRED_SHOWN:
            f = c.figure(metric)
            if f is None:
                continue
            interval = (
                f"{_delta(f.ci_low, kind)} – {_delta(f.ci_high, kind)}"
                if f.ci_low is not None and f.ci_high is not None
                else "—"
            )
            rows.append(
                f'<tr><td class="l">{_esc(c.name)}</td><td class="l">{_esc(label)}</td>'
                f"<td>{_delta(f.delta, kind)}</td><td>{interval}</td><td>{_p(f.p_value)}</td>"
                f"<td>{_p(f.p_holm)}</td><td>{_delta(f.mdd, kind, signed=False)}</td></tr>"
            )
    png = base64.b64encode(forest_plot(paired)).decode("ascii")
    caption = "Paired differences with 95% intervals (filled: p (Holm) < 0.05)"
    first = paired[0]
    return [
        *parts,
        f'<table id="paired"><tr><th class="l">pair</th><th class="l">figure</th>{head}</tr>'
        + "".join(rows)
        + "</table>",
        f'<p class="meta">{first.tasks} common tasks; Δ = B − A; {first.resamples} paired '
        f"bootstrap resamples (seed {first.seed}); sign-flip p-values; Holm across the "
        f"{len(paired)} pair(s). MDD: minimum detectable difference of this design at 80% "
        "power, α = 0.05 — a real difference below it would likely go unseen.</p>",
        f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>",
    ]


PAIRED_SHOWN = (  # (metric, label, kind)
    ("success_rate", "success rate", "pt"),
    ("pass_hat_k", "pass^k", "pt"),
    ("cost_per_outcome_usd", "cost / outcome", "usd"),
    ("roi_outcome_pricing", "ROI outcome", "ratio"),
    ("harm_per_trial_usd", "harm $ / trial", "usd"),
)


def _delta(value: float | None, kind: str, *, signed: bool = True) -> str:
    if value is None:
        return "—"
    if kind == "pt":
        return f"{value * 100:{'+' if signed else ''}.1f} pt"
    if kind == "usd":
        sign = "-" if value < 0 else ("+" if signed else "")
        return f"{sign}${abs(value):,.4f}"
    return f"{value:{'+' if signed else ''},.2f}"


def _p(value: float | None) -> str:
    return "—" if value is None else (f"{value:.4f}" if value >= 0.0001 else f"{value:.1e}")


def render_report(
    parent: Run,
    cells: list[Run],
    images: dict[str, bytes],
    paired: list[PairedComparison] | str | None = None,
) -> str:
    """The whole HTML document."""
    tags, params = parent.data.tags, parent.data.params
    simulated = tags.get("roibench.simulated") == "true" or any(
        c.data.tags.get("roibench.simulated") == "true" for c in cells
    )
    started = datetime.fromtimestamp(parent.info.start_time / 1000, UTC)
    title = f"roibench report — {parent.info.run_name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="meta">suite <b>{_esc(params.get("suite", "?"))}</b> · run '
        f"<code>{_esc(parent.info.run_id)}</code> · started {started:%Y-%m-%d %H:%M} UTC · "
        f"{len(cells)} cell(s) · k = {_esc(params.get('trials', '?'))} trials per task · "
        f"roibench {_esc(tags.get('roibench.version', '?'))}"
        + (
            f" · commit <code>{_esc(tags['roibench.git_commit'][:12])}</code>"
            if "roibench.git_commit" in tags
            else ""
        )
        + "</p>",
    ]
    if simulated:
        parts.append(
            '<div class="banner" id="simulated">SIMULATED RESULTS: these numbers come from '
            "roibench's built-in simulator (tag roibench.simulated=true), not from a real model. "
            "They exercise the pipeline and show the method; they say nothing about any "
            "provider's models.</div>"
        )
    parts += [
        "<h2>Results per cell</h2>",
        cell_table(cells),
        f'<p class="meta">Outcome pricing: {_esc(params.get("outcome_scheme", "?"))} at '
        f"${_esc(params.get('outcome_price_usd', '?'))} per billable unit. Figures in "
        "brackets are 95% intervals.</p>",
        "<h2>Plots</h2>",
    ]
    if not images:
        parts.append("<p>This run has no plots.</p>")
    for name, png in sorted(images.items()):
        data = base64.b64encode(png).decode("ascii")
        caption = PLOT_TITLES.get(name, name)
        parts.append(
            f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    parts += paired_section(paired)
    parts += ["<h2>Setup</h2>", setup_table(cells), "<h2>Method</h2>", "<dl>"]
    for term, text in METHOD_NOTES:
        parts.append(f"<dt><b>{_esc(term)}</b></dt><dd>{_esc(text)}</dd>")
    parts += [
        "</dl>",
        '<p class="meta">Every figure is read back from the MLflow tracking server; the run\'s '
        "journal artifact holds every trial and call, and <code>roibench compare</code> gives "
        "the same numbers as a table.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def report(
    run_id: Annotated[
        str, typer.Argument(help="Suite (parent) or cell run id, or 'latest' (the newest run).")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="HTML file (default: report-<run>.html).")
    ] = None,
) -> None:
    """Write a self-contained HTML report of a suite run from the tracking server."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from rich.console import Console

    from roibench.core.errors import InputError
    from roibench.sinks.mlflow.lookup import LATEST, require_tracking_store, suite_run_id

    err = Console(stderr=True)
    try:
        require_tracking_store()  # never a new, empty store where none is
        client = MlflowClient()
        if run_id == LATEST:
            run_id = suite_run_id(client, LATEST)
    except InputError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    try:
        parent, cells = resolve_suite_run(client, run_id)
    except MlflowException:
        err.print(f"[bold red]error:[/] no run with id {run_id!r}", highlight=False)
        raise typer.Exit(2) from None
    if not cells:
        err.print(f"[bold red]error:[/] run {run_id} has no roibench cell runs", highlight=False)
        raise typer.Exit(2)
    paired = journal_comparisons(client, parent.info.run_id)
    text = render_report(parent, cells, plot_images(client, parent.info.run_id), paired)
    path = output or Path(f"report-{parent.info.run_id}.html")
    path.write_text(text, encoding="utf-8")
    err.print(f"wrote {path} ({len(cells)} cells)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `report` to the CLI."""
    app.command(name="report")(report)
