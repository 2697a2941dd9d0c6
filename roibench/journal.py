"""The journal: append-only JSONL of TrialRecords, fsynced per trial. The source of truth;
MLflow and reports are rebuilt from it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from roibench.errors import InputError
from roibench.records import TrialRecord


class Journal:
    """Appends trial records to a JSONL file, one line each, flushed and fsynced."""

    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self._file = path.open("a", encoding="utf-8")
        if new and header is not None:
            self._write({"kind": "header", **header})

    def _write(self, obj: dict[str, Any]) -> None:
        self._file.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def append(self, trial: TrialRecord) -> None:
        """Write one trial durably."""
        self._file.write('{"kind":"trial","trial":' + trial.model_dump_json() + "}\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_journal(path: Path) -> tuple[dict[str, Any], Iterator[TrialRecord]]:
    """The header and a stream of trial records. A torn last line (crash) is ignored."""
    if not path.is_file():
        raise InputError("journal not found", file=path)
    header: dict[str, Any] = {}
    with path.open(encoding="utf-8") as f:
        first = f.readline()
        if first:
            obj = json.loads(first)
            if obj.get("kind") == "header":
                header = obj

    def trials() -> Iterator[TrialRecord]:
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.endswith("\n"):
                    return  # torn write at a crash
                obj = json.loads(line)
                if obj.get("kind") == "trial":
                    try:
                        yield TrialRecord.model_validate(obj["trial"])
                    except ValueError as exc:
                        raise InputError(
                            f"bad trial record: {exc}", file=path, line=line_no
                        ) from None

    return header, trials()
