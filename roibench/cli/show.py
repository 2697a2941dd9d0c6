"""`roibench show JOURNAL|RUN_ID`: a run per tier and per task — success, pass^k, outcomes,
loss — the worst tasks by loss, and one trial rendered: its conversation, tool calls and
results, and the grader's reason. Read from the journal alone (a run id's journal artifact is
downloaded from the tracking store)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roibench.core.outcomes import OutcomeStatus

if TYPE_CHECKING:
    from rich.console import Console

    from roibench.core.records import MessageRecord, ToolCallRecord, TrialRecord
    from roibench.results.drilldown import Breakdown

SYSTEM_SHOWN = 300
"""Characters of the system message (the policy) shown unless --full."""
TOOL_RESULT_SHOWN = 500
"""Characters of a tool result shown unless --full."""


def header_facts(header: dict[str, Any]) -> dict[str, str]:
    """Run name, suite, k and the regrade note of a journal header, for the title line (both
    the header of today and a RunSpec header, which nests them under 'spec')."""
    spec = header.get("spec")
    src: dict[str, Any] = spec if isinstance(spec, dict) else header
    suite = src.get("suite")
    suite_name = suite.get("name") if isinstance(suite, dict) else suite
    facts = {
        "run": str(src.get("run_name") or "?"),
        "suite": str(suite_name or "?"),
        "trials": str(src.get("trials") or ""),
    }
    regrade = header.get("regrade")
    if isinstance(regrade, dict):
        facts["regraded_from"] = str(regrade.get("from_run") or regrade.get("from_journal"))
    return facts


def _outcomes(counts: Any) -> str:
    parts = [
        f"{n} {name}"
        for name in ("resolved", "escalated", "failed", "harmful", "error")
        if (n := getattr(counts, name))
    ]
    return ", ".join(parts) or "—"


def print_breakdown(console: Console, result: Breakdown, worst: int, tasks: bool) -> None:
    """The per-tier, per-task and worst-task tables."""
    from rich.markup import escape

    from roibench.cli.tables import Grid, pct, print_grid, ratio, usd

    k = result.k
    tiers = Grid(
        title="Per tier (and injection tasks)",
        headers=["cell", "group", "tasks", "trials", "success", f"pass^{k}", "outcomes", "loss"],
        align=["left", "left", "right", "right", "right", "right", "left", "right"],
    )
    for g in result.groups():
        c = g.counts
        tiers.add(
            escape(g.cell), escape(g.group), str(len(g.tasks)), str(c.total),
            pct(g.success_rate), ratio(g.pass_hat(k)), _outcomes(c), usd(g.loss_usd),
        )  # fmt: skip
    print_grid(console, tiers)
    if tasks:
        grid = Grid(
            title="Per task",
            headers=["cell", "task", "tier", "success", f"pass^{k}", "outcomes", "loss"],
            align=["left", "left", "left", "right", "right", "left", "right"],
        )
        for t in result.tasks:
            c = t.counts
            grid.add(
                escape(t.cell), escape(t.task_id), escape(t.tier),
                f"{c.resolved}/{c.total}", ratio(t.pass_hat(k)), _outcomes(c), usd(t.loss_usd),
            )  # fmt: skip
        print_grid(console, grid)
    bad = result.worst(worst)
    if bad:
        grid = Grid(
            title=f"Worst tasks by loss (top {len(bad)})",
            headers=["cell", "task", "tier", "loss", "harmful", "failed"],
            align=["left", "left", "left", "right", "right", "right"],
        )
        for t in bad:
            c = t.counts
            grid.add(
                escape(t.cell), escape(t.task_id), escape(t.tier), usd(t.loss_usd),
                f"{c.harmful}/{c.total}", f"{c.failed}/{c.total}",
            )  # fmt: skip
        print_grid(console, grid)
    else:
        console.print("No task lost money or came out harmful.")


STATUS_STYLE = {
    OutcomeStatus.RESOLVED: "bold green",
    OutcomeStatus.ESCALATED: "bold yellow",
    OutcomeStatus.FAILED: "bold red",
    OutcomeStatus.HARMFUL: "bold white on red",
    OutcomeStatus.ERROR: "bold magenta",
}


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters; --full shows them]"


def _args_text(arguments: str | dict[str, Any]) -> str:
    if isinstance(arguments, dict):
        return json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    return arguments


def _message_lines(m: MessageRecord, full: bool) -> list[tuple[str, str, str]]:
    """(label, style, text) lines of one message."""
    lines: list[tuple[str, str, str]] = []
    if m.role == "system":
        lines.append(("system", "dim", _cut(m.content, None if full else SYSTEM_SHOWN)))
    elif m.role == "tool":
        # tools answer errors as "error: ..." (roibench.workflow.Env.call); a write the
        # verifier stopped as "REJECTED ..." (roibench.agent.REJECTED_PREFIX)
        ok = not m.content.startswith(("error:", "REJECTED"))
        label = "tool" if ok else "tool ✗"
        lines.append((label, "cyan" if ok else "red", _cut(m.content, None if full else
                                                           TOOL_RESULT_SHOWN)))  # fmt: skip
    else:
        if m.content:
            lines.append((m.role, "bold" if m.role == "assistant" else "", m.content))
        for tc in m.tool_calls:
            lines.append(("  → call", "cyan", f"{tc.name}({_args_text(tc.arguments)})"))
    return lines


def _tool_lines(calls: tuple[ToolCallRecord, ...], full: bool) -> list[tuple[str, str, str]]:
    lines: list[tuple[str, str, str]] = []
    for c in calls:
        lines.append(("call", "cyan", f"{c.name}({_args_text(c.args)})"))
        lines.append((
            "result" if c.ok else "result ✗", "cyan" if c.ok else "red",
            _cut(c.result, None if full else TOOL_RESULT_SHOWN),
        ))  # fmt: skip
    return lines


def render_trial(console: Console, t: TrialRecord, *, full: bool = False) -> None:
    """One trial: what it was, its outcome, the conversation (or, for a journal that did not
    record it, the tool calls), the reply and the grader's reason."""
    from rich.table import Table
    from rich.text import Text

    from roibench.cli.tables import usd

    o = t.outcome
    console.print(
        Text.assemble(
            ("Trial ", "bold"),
            (f"{t.cell} · {t.task_id} ({t.tier}) · trial #{t.trial} · seed {t.seed}", ""),
        )
    )
    line = Text.assemble(
        ("Outcome ", "bold"), (f" {o.status.value.upper()} ", STATUS_STYLE[o.status]),
        (f" loss {usd(o.loss_usd)}", ""),
    )  # fmt: skip
    if t.error_class:
        line.append(f" · error class {t.error_class}")
    console.print(line)
    console.print(
        f"cost {usd(t.cost_usd) if t.cost_usd is not None else 'UNPRICED'} · "
        f"{len(t.calls)} model call(s) · {t.steps} step(s) · {t.tool_calls} tool call(s) · "
        f"{t.duration_s:.2f} s",
        highlight=False,
        markup=False,
    )
    if t.original_outcome is not None:
        before = t.original_outcome
        console.print(
            f"regraded: first graded {before.status.value}, loss {usd(before.loss_usd)} — "
            f"{before.reason}",
            highlight=False,
            markup=False,
        )
    body = Table.grid(padding=(0, 1))
    body.add_column(no_wrap=True)
    body.add_column(overflow="fold")
    if t.messages:
        console.print(Text("Conversation", style="bold underline"))
        for m in t.messages:
            for label, style, text in _message_lines(m, full):
                body.add_row(Text(label, style=style or "bold"), Text(text, style=style))
    else:
        console.print(
            Text("Tool calls (this journal did not record the conversation)", style="bold")
        )
        for label, style, text in _tool_lines(t.tool_log, full):
            body.add_row(Text(label, style=style), Text(text))
        body.add_row(Text("reply", style="bold"), Text(t.reply or "(none)"))
    console.print(body)
    console.print(
        Text.assemble(
            ("Grader ", "bold"), (o.status.value, STATUS_STYLE[o.status]),
            (f" — {o.reason or '(no reason given)'}", ""),
        )
    )  # fmt: skip


def show(
    ref: Annotated[str, typer.Argument(help="journal.jsonl, a suite or cell run id, or 'latest'.")],
    cell: Annotated[
        list[str] | None, typer.Option("--cell", "-c", help="Cell label or pattern (repeatable).")
    ] = None,
    task: Annotated[
        list[str] | None, typer.Option("--task", "-t", help="Task id or pattern (repeatable).")
    ] = None,
    tier: Annotated[list[str] | None, typer.Option(help="Tier (repeatable).")] = None,
    status: Annotated[
        list[OutcomeStatus] | None,
        typer.Option("--status", "-s", help="Tasks with such a trial; render one (repeatable)."),
    ] = None,
    trial: Annotated[int | None, typer.Option(min=0, help="Render trial index k.")] = None,
    worst: Annotated[int, typer.Option(min=0, help="How many worst tasks to list.")] = 10,
    tasks: Annotated[
        bool, typer.Option("--tasks/--no-tasks", help="List every task of the selection.")
    ] = True,
    render: Annotated[
        bool, typer.Option("--render/--no-render", help="Render the worst selected trial.")
    ] = True,
    full: Annotated[bool, typer.Option(help="Show recorded texts uncut.")] = False,
) -> None:
    """Per tier and per task figures of a run, its worst tasks, and one trial in full."""
    from rich.markup import escape

    from roibench.cli.tables import make_console
    from roibench.core.errors import InputError
    from roibench.journal.store import iter_trials, read_header
    from roibench.results.drilldown import TrialFilter, breakdown
    from roibench.sinks.mlflow.lookup import resolve_journal

    console, err = make_console(), make_console(stderr=True)
    flt = TrialFilter(
        cells=tuple(cell or ()), tasks=tuple(task or ()), tiers=tuple(tier or ()),
        statuses=tuple(status or ()), trial=trial,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="roibench-show-") as tmp:
        try:
            journal, run_id = resolve_journal(ref, Path(tmp))
            header = read_header(journal)
            facts = header_facts(header)
            k = int(facts["trials"]) if facts["trials"].isdigit() else None
            result = breakdown(iter_trials(journal), flt, k)
        except InputError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None
        title = f"[bold]{escape(facts['run'])}[/] · suite {escape(facts['suite'])}"
        if run_id:
            title += f" · run {run_id}"
        if "regraded_from" in facts:
            title += f" · regraded from {escape(facts['regraded_from'])}"
        console.print(title, highlight=False)
        picked = f"; {result.picked_of} of them match --status/--trial" if (
            flt.statuses or flt.trial is not None
        ) else ""  # fmt: skip
        console.print(
            f"{result.trials_in_scope} of {result.trials_seen} trials in scope{picked}; "
            f"{len(result.tasks)} task(s) in {len(result.cells())} cell(s)",
            highlight=False,
        )
        if not result.tasks:
            err.print("[bold yellow]no trial matches the filters[/]")
            raise typer.Exit(1)
        print_breakdown(console, result, worst, tasks)
        if render and result.picked is not None:
            console.print()
            others = result.picked_of - 1
            if others:
                console.print(
                    f"[dim]The worst of {result.picked_of} selected trials; narrow the choice "
                    "with --task, --status and --trial.[/]"
                )
            render_trial(console, result.picked, full=full)


def register(app: typer.Typer) -> None:
    """Add `show` to the CLI."""
    app.command(name="show")(show)
