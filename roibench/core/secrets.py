"""Keeping API keys out of everything roibench writes.

Keys come only from environment variables. `redact` removes the values of key-like variables
(and strings shaped like common API keys) from any text before it reaches a log, the journal,
an MLflow param, tag, artifact or trace, or an exception message.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

_KEY_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
# sk-..., sk-proj-..., Bearer tokens, long hex/base64-ish runs after key=
_KEY_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{12,}|Bearer\s+[A-Za-z0-9._\-]{12,}|"
    r"(?<=[?&]key=)[A-Za-z0-9._\-]{8,}|(?<=[?&]api_key=)[A-Za-z0-9._\-]{8,})"
)
MASK = "[REDACTED]"
_MIN_SECRET_LEN = 8


@lru_cache(maxsize=4)
def _secret_values(snapshot: frozenset[tuple[str, str]]) -> tuple[str, ...]:
    values = {v for k, v in snapshot if _KEY_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    # longest first, so a key that contains another is masked whole
    return tuple(sorted(values, key=len, reverse=True))


def secret_values() -> tuple[str, ...]:
    """Values of the environment's key-like variables (never logged). Re-read on every call
    (a frozenset of the environment is cheap to hash), so a key set later is still caught."""
    return _secret_values(frozenset(os.environ.items()))


def redact(text: str) -> str:
    """`text` with every known secret value and key-shaped string masked."""
    if not text:
        return text
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    if "sk-" in text or "Bearer" in text or "key=" in text:  # the regex only where it can hit
        text = _KEY_SHAPES.sub(MASK, text)
    return text
