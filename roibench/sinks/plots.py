"""The parent run's plots (matplotlib, Agg backend, PNG bytes): success rate vs cost per outcome
with the Pareto frontier, ROI vs outcome price per cell, and pass^k curves."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from roibench.config.value import OutcomePricing
from roibench.results.economics import CellEconomics, roi_outcome_at_price

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from roibench.results.paired import PairedComparison

PLOT_FILES = {
    "pareto": "success_vs_cost_per_outcome.png",
    "roi_price": "roi_vs_outcome_price.png",
    "pass_k": "pass_hat_k.png",
}
"""Artifact names under the parent run's `plots/` folder."""


@dataclass(frozen=True)
class CellPoint:
    """What the plots need of one cell: its label, metrics and economics."""

    label: str
    metrics: dict[str, float]
    economics: CellEconomics


def _figure(
    width: float = 7.5, height: float = 4.8, *, rows: int = 1, cols: int = 1, top_in: float = 0.45
) -> Figure:
    """A figure with fixed margins in inches around a rows x cols grid of panels. A layout
    engine (constrained, tight) would make savefig draw every figure twice, once to measure:
    that doubled the plots' share of end-of-run logging."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    left_in, right_in, bottom_in = 0.75, 0.2, 0.6  # tick labels + axis label; title above
    panel_w = (width - cols * (left_in + right_in)) / cols
    panel_h = (height - rows * (bottom_in + top_in)) / rows
    fig.subplots_adjust(
        left=left_in / width,
        right=1 - right_in / width,
        bottom=bottom_in / height,
        top=1 - top_in / height,
        wspace=(left_in + right_in) / panel_w,
        hspace=(bottom_in + top_in) / panel_h,
    )
    return fig


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def pareto_frontier(points: Sequence[tuple[str, float, float]]) -> list[str]:
    """Labels of the points (label, cost, success) no other point beats: none is at most as
    costly and at least as successful, and strictly better in one. Ordered by cost."""
    front = []
    for label, cost, success in points:
        dominated = any(
            c <= cost and s >= success and (c < cost or s > success)
            for other, c, s in points
            if other != label
        )
        if not dominated:
            front.append((cost, label))
    return [label for _, label in sorted(front)]


def pareto_plot(cells: Sequence[CellPoint]) -> bytes:
    """Success rate vs cost per successful outcome, 95% intervals as error bars, the Pareto
    frontier as a line. Unpriced cells (no cost) are listed in the title, not drawn at 0."""
    unpriced = [
        c.label
        for c in cells
        if c.metrics.get("cost_per_outcome_usd") is None or c.metrics.get("success_rate") is None
    ]
    fig = _figure(top_in=0.65 if unpriced else 0.45)  # a second title line lists the unpriced
    ax = fig.add_subplot()
    drawn: list[tuple[str, float, float]] = []
    for i, cell in enumerate(cells):
        m = cell.metrics
        cost, success = m.get("cost_per_outcome_usd"), m.get("success_rate")
        if cost is None or success is None:
            continue
        xerr = None
        if "cost_per_outcome_usd_ci_low" in m and "cost_per_outcome_usd_ci_high" in m:
            xerr = [
                [max(cost - m["cost_per_outcome_usd_ci_low"], 0.0)],
                [max(m["cost_per_outcome_usd_ci_high"] - cost, 0.0)],
            ]
        yerr = None
        if "success_rate_ci_low" in m and "success_rate_ci_high" in m:
            yerr = [
                [max(success - m["success_rate_ci_low"], 0.0)],
                [max(m["success_rate_ci_high"] - success, 0.0)],
            ]
        ax.errorbar(
            [cost],
            [success],
            xerr=xerr,
            yerr=yerr,
            fmt="o",
            capsize=3,
            color=f"C{i % 10}",
            label=cell.label,
        )
        drawn.append((cell.label, cost, success))
    front = pareto_frontier(drawn)
    if front:
        by_label = {label: (c, s) for label, c, s in drawn}
        xs = [by_label[label][0] for label in front]
        ys = [by_label[label][1] for label in front]
        ax.plot(xs, ys, "--", color="0.35", linewidth=1.2, label="Pareto frontier")
    ax.set_xlabel("cost per successful outcome (USD, 95% bootstrap CI)")
    ax.set_ylabel("success rate (95% Wilson CI)")
    ax.set_ylim(-0.02, 1.02)
    if drawn and max(c for _, c, _ in drawn) > 0:
        ax.set_xlim(left=0)
    title = "Success rate vs cost per outcome"
    if unpriced:
        title += f"\n(UNPRICED, not drawn: {', '.join(unpriced)})"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=7, loc="best")
    return _png(fig)


def price_grid(econs: Sequence[CellEconomics], current: Decimal, points: int = 60) -> list[Decimal]:
    """Outcome prices to evaluate: 0 to past the widest corridor and the current price."""
    top = current * 2
    for e in econs:
        if e.price_corridor_usd is not None:
            top = max(top, e.price_corridor_usd[1] * Decimal("1.2"))
        if e.cost_per_outcome_usd is not None:
            top = max(top, e.cost_per_outcome_usd * 2)
    top = max(top, Decimal("0.01"))
    return [top * i / points for i in range(1, points + 1)]


def roi_price_plot(cells: Sequence[CellPoint], pricing: OutcomePricing) -> bytes:
    """Buyer ROI under outcome pricing as the price per outcome varies, one panel per cell,
    with the price corridor shaded, the suite's price marked and per-token ROI as a line."""
    n = max(len(cells), 1)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig = _figure(4.2 * cols, 3.3 * rows, rows=rows, cols=cols, top_in=0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    grid = price_grid([c.economics for c in cells], pricing.price_usd)
    for i, cell in enumerate(cells):
        ax = axes[i // cols][i % cols]
        econ = cell.economics
        xs, ys = [], []
        for p in grid:
            roi = roi_outcome_at_price(econ, pricing, p)
            if roi is not None:
                xs.append(float(p))
                ys.append(float(roi))
        ax.plot(xs, ys, color="C0", label="ROI, outcome pricing")
        if econ.price_corridor_usd is not None:
            low, high = econ.price_corridor_usd
            ax.axvspan(float(low), float(high), color="C2", alpha=0.18, label="price corridor")
        if econ.roi_token_pricing is not None:
            ax.axhline(
                float(econ.roi_token_pricing),
                color="C3",
                linestyle="--",
                linewidth=1,
                label="ROI, per-token pricing",
            )
        ax.axvline(
            float(pricing.price_usd),
            color="0.4",
            linestyle=":",
            linewidth=1,
            label=f"suite price ${pricing.price_usd}",
        )
        ax.axhline(0, color="0.6", linewidth=0.8)
        title = cell.label if econ.priced else f"{cell.label} (UNPRICED)"
        if ys:
            finite = [y for y in ys if abs(y) < 1e6]
            if finite:
                lo, hi = min([*finite, 0.0]), max([*finite, 0.0])
                token = econ.roi_token_pricing
                if token is not None and abs(float(token)) < 10 * max(abs(lo), abs(hi), 1):
                    lo, hi = min(lo, float(token)), max(hi, float(token))
                pad = (hi - lo) * 0.08 or 1
                ax.set_ylim(lo - pad, hi + pad)
                if token is not None and not lo - pad <= float(token) <= hi + pad:
                    # per-token ROI is far off this scale: state it (under the title, where
                    # neither the curve nor the legend can cover it) instead of drawing it
                    title += f"\nROI, per-token pricing: {float(token):,.1f} (off scale)"
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(f"price per billable unit, USD ({pricing.scheme})", fontsize=7)
        ax.set_ylabel("buyer ROI", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=6, loc="upper right")
    for j in range(len(cells), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    return _png(fig)


def pass_k_plot(cells: Sequence[CellPoint]) -> bytes:
    """pass^k (all k trials of a task succeed) against k, one line per cell."""
    fig = _figure()
    ax = fig.add_subplot()
    for i, cell in enumerate(cells):
        ks = sorted(cell.economics.pass_hat)
        if not ks:
            continue
        ax.plot(
            ks, [cell.economics.pass_hat[k] for k in ks], "o-", color=f"C{i % 10}", label=cell.label
        )
    ax.set_xlabel("k (trials that must all succeed)")
    ax.set_ylabel("pass^k")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Reliability: pass^k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(fig)


def suite_plots(cells: Sequence[CellPoint], pricing: OutcomePricing) -> dict[str, bytes]:
    """Every plot of a suite run, by artifact file name."""
    return {
        PLOT_FILES["pareto"]: pareto_plot(cells),
        PLOT_FILES["roi_price"]: roi_price_plot(cells, pricing),
        PLOT_FILES["pass_k"]: pass_k_plot(cells),
    }


FOREST_FILE = "paired_forest.png"
"""A paired comparison's forest plot (artifact and report image)."""

FOREST_METRICS = (
    ("success_rate", "Δ success rate (points)", 100.0),
    ("cost_per_outcome_usd", "Δ cost per outcome (USD)", 1.0),
    ("roi_outcome_pricing", "Δ buyer ROI, outcome pricing", 1.0),
)
"""(metric, axis label, scale) of the forest plot's panels."""


def forest_plot(comparisons: Sequence[PairedComparison]) -> bytes:
    """Forest plot of paired comparisons: per panel one metric, per row one pair (B vs A),
    the estimate with its 95% interval and a line at no difference; filled markers are
    significant after Holm's correction (p_holm < 0.05), hollow ones are not."""
    rows = len(comparisons)
    fig = _figure(width=10.5, height=1.4 + 0.42 * rows, cols=len(FOREST_METRICS), top_in=0.5)
    # the cells' common label prefix (e.g. 'refunds/react/sim/') goes into the title
    parts = [label.split("/") for c in comparisons for label in (c.a, c.b)]
    common = 0
    while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
        common += 1
    prefix = "".join(f"{x}/" for x in parts[0][:common]) if parts else ""
    labels = [f"{c.b[len(prefix) :]} vs {c.a[len(prefix) :]}" for c in comparisons]
    if prefix:
        fig.suptitle(f"{prefix}…  (Δ = B − A, 95% paired intervals)", fontsize=8, x=0.02,
                     ha="left")  # fmt: skip
    for col, (metric, title, scale) in enumerate(FOREST_METRICS):
        ax = fig.add_subplot(1, len(FOREST_METRICS), col + 1)
        for i, c in enumerate(comparisons):
            f = c.figure(metric)
            y = rows - 1 - i
            if f is None or f.delta is None:
                ax.text(0, y, "undefined", fontsize=6, ha="center", va="center", color="0.4")
                continue
            if f.ci_low is not None and f.ci_high is not None:
                ax.plot([f.ci_low * scale, f.ci_high * scale], [y, y], "-", color=f"C{i % 10}")
            significant = f.p_holm is not None and f.p_holm < 0.05
            ax.plot(
                [f.delta * scale], [y], "o", color=f"C{i % 10}",
                markerfacecolor=f"C{i % 10}" if significant else "white",
            )  # fmt: skip
        ax.axvline(0, color="0.3", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(rows))
        ax.set_yticklabels(list(reversed(labels)) if col == 0 else [""] * rows, fontsize=6)
        ax.set_ylim(-0.6, rows - 0.4)
        ax.set_title(title, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(alpha=0.3, axis="x")
    longest = max((len(label) for label in labels), default=10)
    fig.subplots_adjust(left=min(0.4, 0.03 + 0.0055 * longest))  # room for the pair labels
    return _png(fig)
