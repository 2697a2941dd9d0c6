"""The `roibench` command line: argument parsing and one call into the pipeline per command.

Sub-commands live in their own modules. Each defines `register(app)` and keeps heavy imports
inside its command functions, so `roibench --help` stays fast."""

from __future__ import annotations

import importlib
import importlib.util

import typer

# Order is the order in `roibench --help`.
COMMAND_MODULES = (
    "check", "show", "regrade", "runs", "reprice", "compare", "plan", "report", "log", "init",
)  # fmt: skip


def register_all(app: typer.Typer) -> None:
    """Register every command module that exists."""
    for name in COMMAND_MODULES:
        module_name = f"{__name__}.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(app)
