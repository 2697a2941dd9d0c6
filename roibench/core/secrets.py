"""Keeping API keys out of everything roibench writes.

Keys come only from environment variables. Which variables hold keys is known from the model,
not guessed from their look: every provider preset and every suite names its `api_key_env`,
and each name is registered here (`register_key_env`). `redact` masks the value of every
registered variable, whatever its length, plus the values of key-like variables (`*KEY*`,
`*TOKEN*`, `*SECRET*`, ... of 8 characters or more), strings shaped like common API keys, and
credentials embedded in URLs (`https://user:password@host`, `?key=...`), before text reaches a
log, the journal, an MLflow param, tag, artifact or trace, the terminal or an exception message.

`redact_json` does the same for one JSON document (a journal line) without ever touching its
structure: a one-character key would otherwise be masked inside field names too.
"""

from __future__ import annotations

import json
import os
import re
import threading
from functools import lru_cache
from typing import Any

_KEY_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
# sk-..., sk-proj-..., Bearer tokens
_KEY_SHAPES = re.compile(r"(sk-[A-Za-z0-9_\-]{12,}|Bearer\s+[A-Za-z0-9._\-]{12,})")
# credentials in a URL: the userinfo of scheme://user:password@host, and the value of a
# credential-like query parameter (any length)
_URL_USERINFO = re.compile(r"(?<=://)[^/\s@\"'<>\\]+@")
_URL_QUERY_KEY = re.compile(
    r"(?<=[?&;])((?:api[_-]?key|key|token|access[_-]?token|auth|password|passwd|pwd|secret|"
    r"signature|sig|client[_-]?secret)=)[^&#\s\"'<>\\]+",
    re.IGNORECASE,
)
MASK = "[REDACTED]"
_MIN_HEURISTIC_LEN = 8
"""A key-like variable that no model names is masked only from this length on (a short value
of an unrelated variable, e.g. TOKENIZERS_PARALLELISM=true, would mangle ordinary text)."""

_registered: set[str] = set()
_lock = threading.Lock()


def register_key_env(*names: str | None) -> None:
    """Record that these environment variables hold API keys: their values, of any length,
    are masked from then on. Provider presets register theirs at import, suites when parsed."""
    with _lock:
        _registered.update(n for n in names if n)


def key_envs() -> frozenset[str]:
    """The registered key variables (names only)."""
    return frozenset(_registered)


@lru_cache(maxsize=8)
def _secret_values(
    snapshot: frozenset[tuple[str, str]], registered: frozenset[str]
) -> tuple[str, ...]:
    values = {
        v
        for k, v in snapshot
        if v and (k in registered or (_KEY_NAME.search(k) and len(v) >= _MIN_HEURISTIC_LEN))
    }
    # longest first, so a key that contains another is masked whole
    return tuple(sorted(values, key=len, reverse=True))


_seen_env: dict[object, object] | None = None  # the raw environment the values were read from
_seen_registered: frozenset[str] = frozenset()
_seen_values: tuple[str, ...] = ()


def secret_values() -> tuple[str, ...]:
    """Values of the registered and the key-like variables (never logged). Checked against
    the environment on every call, so a key set later is still caught: compared as CPython
    keeps it (undecoded bytes), which costs ~1 µs where decoding it costs ~40 µs — redaction
    runs on every journal line."""
    global _seen_env, _seen_registered, _seen_values
    registered = frozenset(_registered)
    raw = getattr(os.environ, "_data", None)
    if not isinstance(raw, dict):  # not CPython's os.environ: decode it every time
        return _secret_values(frozenset(os.environ.items()), registered)
    if raw != _seen_env or registered != _seen_registered:
        _seen_values = _secret_values(frozenset(os.environ.items()), registered)
        _seen_env, _seen_registered = dict(raw), registered
    return _seen_values


def _needs_patterns(text: str) -> bool:
    return "sk-" in text or "Bearer" in text or "://" in text or "=" in text


def _mask_patterns(text: str) -> str:
    if "sk-" in text or "Bearer" in text:
        text = _KEY_SHAPES.sub(MASK, text)
    if "://" in text:
        text = _URL_USERINFO.sub(MASK + "@", text)
    if "=" in text:
        text = _URL_QUERY_KEY.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact(text: str) -> str:
    """`text` with every known secret value, key-shaped string and URL credential masked."""
    if not text:
        return text
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    if _needs_patterns(text):  # the regexes only where they can hit
        text = _mask_patterns(text)
    return text


def needs_redaction(text: str) -> bool:
    """True if `redact` would change `text`."""
    if any(v in text for v in secret_values()):
        return True
    return _needs_patterns(text) and _mask_patterns(text) != text


def mask_url(url: str) -> str:
    """A URL with its credentials (userinfo, key-like query values) masked."""
    return redact(url)


_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_IDENTIFIERS = frozenset(
    {"kind", "key", "status", "error_class", "error", "role", "finish_reason", "tier", "cell",
     "workflow", "agent", "model", "task_id", "started_at", "name"}
)  # fmt: skip
"""Fields holding identifiers and enum values of roibench's own records (never a provider's
or an agent's text): left as they are, so a key as short as one character cannot make a
journal line unreadable."""


def redact_json(line: str) -> str:
    """One JSON document (compact, as the journal writes it) with every string value masked as
    `redact` masks text; its structure and field names are left intact, so a key as short as
    one character cannot corrupt the document. Unchanged (and not re-encoded) when nothing in
    it needs masking, which is every line of an ordinary run."""
    if not needs_redaction(line):
        return line
    try:
        obj = json.loads(line)
    except ValueError:
        return redact(line)
    return json.dumps(_redact_document(obj), separators=(",", ":"), ensure_ascii=False)


def _is_identifier(value: Any) -> bool:
    """A plain value (or a list of them, like a call line's trial key), not a nested record."""
    if isinstance(value, list):
        return all(isinstance(v, str | int) for v in value)  # pyright: ignore[reportUnknownVariableType]
    return isinstance(value, str)


def _redact_document(value: Any) -> Any:
    """Mask string values (but not identifiers), and dict keys that are data rather than field
    names."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_document(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():  # pyright: ignore[reportUnknownVariableType]
            key = k if not isinstance(k, str) or _FIELD_NAME.match(k) else redact(k)
            out[key] = v if k in _IDENTIFIERS and _is_identifier(v) else _redact_document(v)
        return out
    return value
