"""`roibench init DIR`: scaffold a team's own evaluation project that runs offline at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

TEMPLATE = "project"
"""Folder under roibench/templates/ that is copied."""

RENAMES = {"gitignore": ".gitignore"}
"""Template files stored under another name (dotfiles do not travel well as package data)."""


def scaffold(target: Path, *, force: bool = False) -> list[Path]:
    """Copy the project template into `target`; return the files written.

    Raises InputError if `target` is a file, or a non-empty folder and `force` is not set
    (then no file is written). With `force`, existing files of the same name are overwritten.
    """
    from importlib.resources import files
    from importlib.resources.abc import Traversable

    from roibench.core.errors import InputError

    if target.exists() and not target.is_dir():
        raise InputError("exists and is not a folder", file=target)
    if target.is_dir() and any(target.iterdir()) and not force:
        raise InputError("folder is not empty (use --force to write into it anyway)", file=target)
    root = files("roibench") / "templates" / TEMPLATE
    project = target.resolve().name
    written: list[Path] = []

    def copy(node: Traversable, dest: Path) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.name == "__pycache__":
                continue
            out = dest / RENAMES.get(child.name, child.name)
            if child.is_dir():
                copy(child, out)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            data = child.read_bytes()
            if child.name == "README.md" and dest == target:
                data = data.replace(b"{{project}}", project.encode())
            out.write_bytes(data)
            written.append(out)

    copy(root, target)
    return written


def register(app: typer.Typer) -> None:
    """Add the `init` command."""

    @app.command()
    def init(
        directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
        force: Annotated[
            bool, typer.Option("--force", help="Write into a non-empty folder.")
        ] = False,
    ) -> None:
        """Scaffold a project: agents/, workflows/ (an example), datasets/, evals/ (a suite)."""
        from rich.console import Console

        from roibench.core.errors import InputError

        try:
            written = scaffold(directory, force=force)
        except InputError as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(code=2) from None
        console = Console()
        console.print(f"Created {len(written)} files in [bold]{directory}[/]:")
        for path in written:
            console.print(f"  {path.relative_to(directory)}", highlight=False)
        console.print(
            f"\nNext:  cd {directory} && roibench run evals/expenses.toml   "
            "(offline, on the built-in simulator)"
        )
