"""Redaction of key-like values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roibench.core.secrets import MASK, key_envs, redact, redact_json, register_key_env


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


def test_a_named_key_variable_is_masked_whatever_its_name_or_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redaction from the model: a variable a preset or suite names as `api_key_env` is a
    secret, even when it is called ACME_AUTH and holds three characters."""
    monkeypatch.setenv("ACME_AUTH_T1", "q#7")
    assert redact("got q#7 back") == "got q#7 back"  # nobody said it is a key
    register_key_env("ACME_AUTH_T1")
    assert "ACME_AUTH_T1" in key_envs()
    assert redact("got q#7 back") == f"got {MASK} back"


def test_suites_and_presets_register_their_key_variables(tmp_path: Path) -> None:
    from roibench.config.suite import parse_suite

    assert "DEEPSEEK_API_KEY" in key_envs()  # every preset's, at import
    parse_suite(
        'name = "s"\nagents = ["react"]\nworkflows = ["refunds"]\n'
        "[outcome_pricing]\nprice_usd = 1\n"
        '[[models]]\nname = "m"\nprovider = "local"\napi_key_env = "MY_VLLM_PASS_T2"\n',
        tmp_path / "s.toml",
    )
    assert "MY_VLLM_PASS_T2" in key_envs()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://bob:hunter2@10.0.0.1:8000/v1", f"http://{MASK}@10.0.0.1:8000/v1"),
        ("https://tok@host/v1", f"https://{MASK}@host/v1"),
        ("https://host/v1?key=abc&model=x", f"https://host/v1?key={MASK}&model=x"),
        ("https://host/v1?api_key=a1&token=b2", f"https://host/v1?api_key={MASK}&token={MASK}"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ],
)
def test_credentials_in_urls_are_masked(url: str, masked: str) -> None:
    assert redact(f'base_url = "{url}"') == f'base_url = "{masked}"'


def test_redact_json_keeps_the_document_valid_for_a_one_character_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ONE_CHAR_T3", "a")
    register_key_env("ONE_CHAR_T3")
    line = json.dumps(
        {"kind": "trial", "task_id": "a-1", "reason": "a refund", "url": "http://u:p@h/v1"},
        separators=(",", ":"),
    )
    out = json.loads(redact_json(line))
    # field names and identifiers intact (the journal stays readable), text masked
    assert out == {
        "kind": "trial", "task_id": "a-1", "reason": f"{MASK} refund", "url": f"http://{MASK}@h/v1"
    }  # fmt: skip
    assert redact_json('{"k":"xyz"}') == '{"k":"xyz"}'  # nothing to mask: untouched
    # an identifier field holding a record is masked inside like any other
    nested = json.loads(redact_json('{"model":{"base_url":"http://u:p@h/v1"}}'))
    assert nested == {"model": {"base_url": f"http://{MASK}@h/v1"}}


def test_a_key_set_or_changed_after_a_redaction_is_still_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment is read once and re-read only when it changed: a change must show."""
    assert redact("before any key: zq-first-secret-0001") == "before any key: zq-first-secret-0001"
    monkeypatch.setenv("LATE_API_KEY", "zq-first-secret-0001")
    assert redact("now: zq-first-secret-0001") == f"now: {MASK}"
    monkeypatch.setenv("LATE_API_KEY", "zq-second-secret-0002")
    assert redact("zq-second-secret-0002 / zq-first-secret-0001") == (
        f"{MASK} / zq-first-secret-0001"
    )
    monkeypatch.delenv("LATE_API_KEY")
    assert redact("gone: zq-second-secret-0002") == "gone: zq-second-secret-0002"
