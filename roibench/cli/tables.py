"""Terminal tables that read: money in dollars at a precision that fits the amount, ROI as a
multiple ("3.64×", "-18.8k×" rather than "-18819.07"), a closing verdict under the results
table, and a layout that never cuts a column.

A table is first built as a `Grid` (headers and text cells). On a console wide enough it is
printed as a rich table; on a narrow one (an 80-column terminal) each row becomes a block of
"header: value" lines, which wrap instead of being truncated. When output is not a terminal
(a pipe, a CI log) the console is as wide as the widest table, not rich's default 80.

Only rich is imported here (`roibench --help` stays fast).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from roibench.model.providers import Provider
    from roibench.results.summary import CellSummary

PIPE_WIDTH = 400
"""Console width when output is not a terminal and $COLUMNS is unset: wide enough for every
table roibench prints, so none is squeezed into rich's default 80 columns."""


def make_console(*, stderr: bool = False) -> Console:
    """A console for command output: the terminal's width, $COLUMNS when set, else (output
    piped or captured) PIPE_WIDTH."""
    console = Console(stderr=stderr)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(stderr=stderr, width=PIPE_WIDTH)
    return console


# --- numbers ----------------------------------------------------------------------------------


def usd(value: Decimal | float | None) -> str:
    """Dollars at a precision that fits: "$1,235", "$12.34", "$0.0143", "$0.000170"; "—" for
    an undefined (or unpriced) amount, never "$0"."""
    if value is None:
        return "—"
    v = Decimal(str(value)) if isinstance(value, float) else value
    sign = "-" if v < 0 else ""
    a = Decimal(abs(v))
    if a >= 1000:  # half up, as people round money ($12.345 -> $12.35)
        text = f"{a.quantize(Decimal(1), ROUND_HALF_UP):,.0f}"
    elif a >= 1 or a == 0:
        text = f"{a.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"
    elif a >= Decimal("0.01"):
        text = f"{a.quantize(Decimal('0.0001'), ROUND_HALF_UP):.4f}"
    else:
        text = f"{float(a):.3g}" if a >= Decimal("1e-6") else f"{float(a):.2e}"
    return f"{sign}${text}"


def signed_usd(value: Decimal | float | None) -> str:
    """Like `usd`, with a "+" on gains (net savings)."""
    text = usd(value)
    return f"+{text}" if value is not None and value > 0 else text


_SUFFIXES = ((Decimal(10) ** 9, "G"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k"))


def multiple(value: Decimal | float | None) -> str:
    """A ratio as a multiple with three significant figures: "0.35×", "7.09×", "560×",
    "1.35k×", "-376k×"; "—" when undefined."""
    if value is None:
        return "—"
    v = Decimal(str(value)) if isinstance(value, float) else value
    sign = "-" if v < 0 else ""
    a = Decimal(abs(v))
    for scale, suffix in _SUFFIXES:
        if a >= scale:
            return f"{sign}{_sig3(a / scale)}{suffix}×"
    return f"{sign}{_sig3(a)}×"


def _sig3(a: Decimal) -> str:
    if a >= 100:
        return f"{a:.0f}"
    if a >= 10:
        return f"{a:.1f}"
    return f"{a:.2f}"


def pct(value: float | None, digits: int = 0) -> str:
    """A rate as a percentage; "—" when undefined."""
    return "—" if value is None else f"{value:.{digits}%}"


def ratio(value: float | None) -> str:
    """A probability such as pass^k, two decimals; "—" when undefined."""
    return "—" if value is None else f"{value:.2f}"


# --- layout -----------------------------------------------------------------------------------


@dataclass
class Grid:
    """A table as text: a title, headers (left- or right-aligned) and rows."""

    title: str
    headers: list[str]
    align: Sequence[str]
    """Per column: "right" (numbers) or "left"."""
    rows: list[list[str]] = field(default_factory=list)
    caption: str | None = None

    def add(self, *cells: str) -> None:
        """Append a row (markup allowed in cells)."""
        self.rows.append(list(cells))

    def table(self) -> Table:
        """As a rich table; long cells fold (wrap) rather than end in an ellipsis."""
        table = Table(title=self.title, header_style="bold", caption=self.caption)
        for header, align in zip(self.headers, self.align, strict=True):
            justify: Literal["left", "right"] = "right" if align == "right" else "left"
            table.add_column(header, justify=justify, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table

    def stacked(self) -> RenderableType:
        """One block per row: the first cell as its heading, then "header: value" lines."""
        parts: list[RenderableType] = [Text(self.title, style="bold")]
        width = max((len(h) for h in self.headers[1:]), default=0)
        for row in self.rows:
            parts.append(Text.from_markup(f"[bold]{row[0]}[/]"))
            body = Table.grid(padding=(0, 1))
            body.add_column(no_wrap=True)
            body.add_column(overflow="fold")
            for header, cell in zip(self.headers[1:], row[1:], strict=True):
                body.add_row(f"  {header:<{width}}", Text.from_markup(cell))
            parts.append(body)
        if self.caption:
            parts.append(Text(self.caption, style="dim"))
        return Group(*parts)


def natural_width(console: Console, renderable: RenderableType) -> int:
    """Columns a renderable needs to print without squeezing anything."""
    from rich.measure import Measurement

    options = console.options.update(max_width=10_000)
    return Measurement.get(console, options, renderable).maximum


def print_grid(console: Console, grid: Grid) -> None:
    """As a table when it fits the console, else stacked (wraps, nothing cut)."""
    table = grid.table()
    if natural_width(console, table) <= console.width:
        console.print(table)
    else:
        console.print(grid.stacked())


# --- the end-of-run results ---------------------------------------------------------------------


def per_task(total: Decimal | None, trials: int) -> Decimal | None:
    """A cell total per trial (a trial is one task done once)."""
    return None if total is None or trials == 0 else total / trials


_LIMIT_METRICS = frozenset(
    f"{r}_trials" for r in ("step_limit", "token_limit", "budget_exhausted", "trial_timeout")
)


def results_grid(summaries: dict[str, CellSummary], trials: int) -> Grid:
    """The end-of-run table: one row per cell — trials run (of planned), reliability, errors
    (infrastructure, and harness bugs apart), trials ended by a limit, spend, and per pricing
    scheme the buyer's net savings per task beside ROI, and the measured loss. A cell that ran
    fewer trials than planned says so (`12/20`); one that ran none reads "not run", never 0%."""
    grid = Grid(
        title="Results per cell",
        headers=[
            "cell", "trials", "success (95% CI)", f"pass^{trials}", "esc / fail / harm",
            "errors", "limits", "spend", "cost / outcome", "net / task (token)", "ROI token",
            "net / task (outcome)", "ROI outcome", "loss",
        ],
        align=["left"] + ["right"] * 13,
        caption="net / task: what the buyer saves per task against an all-human baseline "
        "(human cost minus AI cost, people finishing escalations and failures, and harm); "
        "ROI: that saving over what the buyer pays the AI (tokens, or outcome fees)",
    )  # fmt: skip
    for label, s in summaries.items():
        e = s.economics
        c = e.counts
        planned = int(s.metrics.get("planned_trials", c.total))
        ran = f"{c.total}/{planned}" if c.total != planned else str(c.total)
        if c.total < planned:
            ran = f"[bold yellow]{ran}[/]"
        if not c.total:
            grid.add(escape(label), ran, "not run", *["—"] * 11)
            continue
        ci = e.success_rate_ci
        ci_text = f" ({ci[0]:.0%}–{ci[1]:.0%})" if ci else ""
        total = c.total
        errors = f"{c.error / total:.0%}"
        if c.harness_error:
            errors += f" + [bold red]{c.harness_error / total:.0%} harness[/]"
        limits = ", ".join(
            f"{int(n)} {name.removesuffix('_trials').replace('_', ' ')}"
            for name, n in sorted(s.metrics.items())
            if name in _LIMIT_METRICS and n
        )
        unpriced = "[bold red]UNPRICED[/]"
        grid.add(
            escape(label),
            ran,
            f"{e.success_rate:.0%}{ci_text}",
            ratio(e.pass_hat.get(trials)),
            f"{c.escalated / total:.0%} / {c.failed / total:.0%} / {c.harmful / total:.0%}",
            errors,
            limits or "—",
            usd(e.spend_usd) if e.priced else unpriced,
            usd(e.cost_per_outcome_usd) if e.priced else unpriced,
            signed_usd(per_task(e.net_savings_token_usd, c.total)) if e.priced else unpriced,
            multiple(e.roi_token_pricing),
            signed_usd(per_task(e.net_savings_outcome_usd, c.total)),
            multiple(e.roi_outcome_pricing),
            usd(e.loss_usd),
        )
    return grid


def _best(
    items: Iterable[tuple[str, Decimal | float]], *, lowest: bool = False
) -> tuple[str, Decimal | float] | None:
    ranked = sorted(items, key=lambda kv: kv[1], reverse=not lowest)
    return ranked[0] if ranked else None


def verdict(summaries: dict[str, CellSummary], outcome_scheme: str = "outcome") -> list[str]:
    """Closing lines under the results table (two cells or more): which cell saves the buyer
    most per task under each pricing, which is cheapest per successful outcome (and why that
    can disagree with ROI), which does least harm."""
    if len(summaries) < 2:
        return []
    lines: list[str] = []
    econ = {label: s.economics for label, s in summaries.items()}
    token = _best(
        (label, n / e.counts.total)
        for label, e in econ.items()
        if (n := e.net_savings_token_usd) is not None and e.counts.total
    )
    outcome = _best(
        (label, n / e.counts.total)
        for label, e in econ.items()
        if (n := e.net_savings_outcome_usd) is not None and e.counts.total
    )
    for name, best in (("per-token pricing", token), (f"{outcome_scheme} pricing", outcome)):
        if best is None:
            lines.append(f"Under {name}: no cell is priced, so none can be compared.")
        elif best[1] > 0:
            lines.append(
                f"Saves the buyer most per task under {name}: {best[0]} "
                f"({signed_usd(best[1])} per task)."
            )
        else:
            lines.append(
                f"Under {name} no cell saves the buyer money; the least costly is {best[0]} "
                f"({signed_usd(best[1])} per task)."
            )
    cheapest = _best(
        ((label, cpo) for label, e in econ.items() if (cpo := e.cost_per_outcome_usd) is not None),
        lowest=True,
    )
    if cheapest is not None:
        lines.append(
            f"Cheapest per successful outcome: {cheapest[0]} ({usd(cheapest[1])}). Cost per "
            "outcome is the AI spend over resolved tasks only: it ignores harm, escalations "
            "and rework, which the net savings and ROI include — so the two can point "
            "opposite ways."
        )
    least_harm = min(
        econ.items(),
        key=lambda kv: (kv[1].counts.harmful / (kv[1].counts.total or 1), kv[1].loss_usd),
    )
    e = least_harm[1]
    lines.append(
        f"Least harm: {least_harm[0]} ({e.counts.harmful / (e.counts.total or 1):.0%} of "
        f"trials harmful, {usd(e.loss_usd)} measured loss)."
    )
    return lines


def print_results(
    console: Console,
    summaries: dict[str, CellSummary],
    trials: int,
    outcome_scheme: str = "outcome",
) -> None:
    """The results table (or its stacked form on a narrow console) and the verdict."""
    print_grid(console, results_grid(summaries, trials))
    for line in verdict(summaries, outcome_scheme):
        console.print(escape(line), highlight=False)


# --- other listings ---------------------------------------------------------------------------


def providers_grid(presets: Sequence[Provider]) -> Grid:
    """`roibench providers`: every preset, nothing cut."""
    grid = Grid(
        title="Provider presets",
        headers=["name", "base URL", "key variable", "key", "usage dialect",
                 "timed-out attempt", "quirks"],
        align=["left"] * 7,
    )  # fmt: skip
    for p in presets:
        quirks = []
        if p.echo_reasoning:
            quirks.append("echo reasoning_content")
        if p.think_in_content:
            quirks.append("<think> in content")
        if p.reasoning_field and p.reasoning_field != "reasoning_content":
            quirks.append(f"reasoning field '{p.reasoning_field}'")
        if "required" not in p.tool_choice_values:
            quirks.append("tool_choice " + "/".join(p.tool_choice_values))
        if p.max_tokens_param != "max_tokens":
            quirks.append(p.max_tokens_param)
        grid.add(
            escape(p.name),
            escape(p.base_url or ("(in-process)" if p.simulated else "(started by roibench)")),
            escape(p.api_key_env or "—"),
            escape(p.key_status()),
            escape(p.usage_dialect),
            "$0 (assumed)" if p.timeout_billing == "assumed_not_billed" else "$0 (nothing billed)",
            escape(", ".join(quirks)),
        )
    return grid
