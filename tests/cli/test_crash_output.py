"""Even a crash (a bug, not bad input) prints no key: the traceback is masked."""

from __future__ import annotations

import pytest

from roibench.cli.app import _redacting_excepthook
from roibench.core.secrets import MASK, register_key_env


def test_a_crash_traceback_is_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACME_CRASH_T4", "k9#")
    register_key_env("ACME_CRASH_T4")
    try:
        raise RuntimeError("request to http://bob:hunter2@10.0.0.1/v1 with key k9# failed")
    except RuntimeError as exc:
        _redacting_excepthook(RuntimeError, exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError" in err
    assert "k9#" not in err and "hunter2" not in err
    assert f"with key {MASK} failed" in err
