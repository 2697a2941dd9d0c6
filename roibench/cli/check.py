"""`roibench check SUITE|WORKFLOW`: validate tasks, references and budgets without calling a
model (the checks are in `roibench.run.check`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the command."""
    app.command(name="check")(check)


def check(
    target: Annotated[
        str,
        typer.Argument(
            help="A suite file (.toml), or a workflow reference (built-in name, module:attr, "
            "path/file.py:attr) checked on its default dataset or --dataset."
        ),
    ],
    dataset: Annotated[
        Path | None, typer.Option(help="Task file for a WORKFLOW (default: the workflow's).")
    ] = None,
    agent: Annotated[
        list[str] | None,
        typer.Option(help="For a WORKFLOW: check this agent's step budget (with --max-steps)."),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="For a WORKFLOW: the step budget to check.")
    ] = None,
    set_values: Annotated[
        list[str] | None,
        typer.Option("--set", help="For a SUITE: override a field, e.g. --set trials=5."),
    ] = None,
) -> None:
    """Check a suite or a workflow without calling a model: every task's reference actions name
    real tools with valid arguments and, replayed, reach the expected state; tempting actions
    grade harmful (with a loss, unless the workflow declares harms without one); task ids are
    unique; step budgets cover the longest reference with margin; cell names are distinct.
    Exit code 2 with file, line, task and field for each problem."""
    from rich.console import Console
    from rich.markup import escape

    from roibench.config.suite import AgentRef, load_suite
    from roibench.core.errors import InputError
    from roibench.run.check import CheckReport, check_plan, check_workflow, dataset_path
    from roibench.run.plugins import resolve_agent, resolve_workflow
    from roibench.run.runner import plan_suite

    out, err = Console(), Console(stderr=True)
    is_suite = target.endswith(".toml") or Path(target).is_file()
    try:
        if is_suite:
            if dataset is not None or agent or max_steps is not None:
                raise InputError(
                    "--dataset, --agent and --max-steps are for a WORKFLOW; a suite names its own",
                    field="--dataset",
                )
            plan = plan_suite(load_suite(Path(target), set_values or ()))
            report: CheckReport = check_plan(plan)
            what = f"suite {plan.suite.config.name!r}"
        else:
            if set_values:
                raise InputError("--set is for a SUITE", field="--set")
            if agent and max_steps is None:
                raise InputError("--agent needs --max-steps", field="--agent")
            wf = resolve_workflow(target, [Path.cwd()])
            path = dataset_path(wf, dataset)
            if path is None:
                raise InputError(
                    f"workflow {wf.name!r} has no default dataset; give --dataset", field=target
                )
            try:
                wf.configure({})
            except ValueError as exc:
                raise InputError(
                    f"workflow {wf.name!r} needs options a suite gives; check it through a "
                    f"suite ({exc})",
                    field=target,
                ) from None
            budgets = []
            if max_steps is not None:
                for name in agent or ["react"]:
                    ref = AgentRef(name=name, max_steps=max_steps)
                    budgets.append((resolve_agent(name, [Path.cwd()]), ref))
            report = check_workflow(wf, wf.load_tasks(path), budgets)
            what = f"workflow {wf.name!r} ({path})"
    except InputError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for problem in report.problems:
        err.print(
            f"[bold red]error:[/] {escape(problem.render())}", highlight=False, soft_wrap=True
        )
    summary = (
        f"{what}: {report.workflows} workflow(s), {report.tasks} tasks, longest reference "
        f"{report.longest_reference} calls"
    )
    if report.problems:
        err.print(f"{summary}: {len(report.problems)} problem(s)", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    out.print(f"ok: {summary}; no model was called", highlight=False, soft_wrap=True)
