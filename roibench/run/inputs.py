"""Checks of `roibench run`'s paths before anything is written: each bad one is an InputError
naming the flag (exit 2, no journal, no MLflow run, no file touched)."""

from __future__ import annotations

from pathlib import Path

from roibench.core.errors import InputError

SQLITE_MAGIC = b"SQLite format 3\x00"


def check_out_dir(out: Path) -> None:
    """`--out` must be a folder, or not exist yet under folders."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                what = "--out" if path == out else f"--out's parent {path}"
                raise InputError(f"{what} is a file, not a folder", file=out, field="--out")
            return


def check_cache_path(path: Path | None) -> None:
    """`--cache` must name an sqlite file (roibench's response cache) or a new one: not a
    folder, not some other file (sqlite would fail on it later, or worse, write into it)."""
    if path is None:
        return
    if path.is_dir():
        raise InputError("is a folder; --cache needs a database file", file=path, field="--cache")
    if path.is_file():
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
        if head and head != SQLITE_MAGIC:
            raise InputError(
                "is not an sqlite database (roibench's response cache); name a new file",
                file=path,
                field="--cache",
            )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{parent} is a file, not a folder", file=path, field="--cache")
            return
