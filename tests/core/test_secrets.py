"""Redaction of key-like values."""

from __future__ import annotations

import pytest

from roibench.core.secrets import MASK, redact


def test_env_key_values_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PROVIDER_API_KEY", "abc123-very-secret-value")
    monkeypatch.setenv("HARMLESS_SETTING", "abc123-very-secret-value-2")
    text = "failed with key abc123-very-secret-value in header"
    assert redact(text) == f"failed with key {MASK} in header"


def test_key_shapes_are_masked_without_env() -> None:
    assert "sk-live1234567890abcd" not in redact("Authorization: Bearer sk-live1234567890abcd")
    assert redact("url?key=AIzaSyExample12345") == f"url?key={MASK}"


def test_short_values_and_plain_text_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_TOKEN", "abc")  # too short to be a secret; would mangle text
    assert redact("abc def") == "abc def"
    assert redact("") == ""
