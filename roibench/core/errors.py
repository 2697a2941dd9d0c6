"""Errors that roibench reports to users.

`InputError` is bad input (a suite, dataset, price card or plug-in): the CLI prints it and
exits with code 2 before anything is logged anywhere.
"""

from __future__ import annotations

from pathlib import Path

from roibench.core.secrets import redact


class RoibenchError(Exception):
    """Base class of every error roibench raises on purpose."""


class InputError(RoibenchError):
    """Invalid user input; names the file, line and field that are wrong."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.detail = redact(message)  # e.g. a base_url with a password, a provider's words
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"field '{self.field}': " if self.field else ""
        return redact(f"{where}{field}{self.detail}")


class BillingError(RoibenchError):
    """The provider refuses to serve for money reasons (no balance, quota used up): final."""


class HarnessError(RoibenchError):
    """A bug in the code around the model — a tool that raised something other than ToolError,
    a grader that raised or returned no Outcome, agent code that raised — as opposed to an
    infrastructure error. The trial is recorded as `harness_error`, naming `where` and the
    exception type; the run goes on and exits non-zero."""

    def __init__(self, where: str, cause: BaseException | str) -> None:
        self.where = where
        if isinstance(cause, BaseException):
            self.exc_type = type(cause).__name__
            detail = f"{self.exc_type}: {cause}"
        else:
            self.exc_type = ""
            detail = cause
        super().__init__(redact(f"{where}: {detail}"))
