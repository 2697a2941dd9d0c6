"""τ-bench's database hash, and a fast incremental form of it.

τ-bench compares end states by hashing the whole database: every dict becomes a tuple of
(key, value) pairs sorted by key, every list a tuple, recursively; the hash is the SHA-256 of
`str()` of that tuple, UTF-8 encoded. `tau_hash` computes exactly that (our own code, written
from the definition), so a hash computed here equals one computed by τ-bench.

Hashing the retail database from scratch takes ~0.1 s. `IncrementalHasher` produces the same
digest by caching the text of every top-level record (one order, one user, one product) of an
unchanged base database and re-rendering only the records a trial wrote.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


def to_hashable(item: Any) -> Any:
    """Dicts -> tuples of (key, value) sorted by key; lists -> tuples; sets -> sorted tuples."""
    if isinstance(item, dict):
        return tuple((key, to_hashable(value)) for key, value in sorted(item.items()))
    if isinstance(item, list):
        return tuple(to_hashable(element) for element in item)
    if isinstance(item, set | frozenset):
        return tuple(sorted(to_hashable(element) for element in item))
    return item


def tau_hash(data: Any) -> str:
    """SHA-256 (hex) of `str(to_hashable(data))`: τ-bench's database hash."""
    return hashlib.sha256(str(to_hashable(data)).encode("utf-8")).hexdigest()


def _tuple_text(parts: list[str]) -> str:
    """How Python prints a tuple whose elements print as `parts`."""
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def _pair_text(key: str, value: Any) -> str:
    return repr((key, to_hashable(value)))


class IncrementalHasher:
    """τ-bench's hash of `{collection: {key: record}}` databases derived from one base.

    `digest(db, dirty)` equals `tau_hash(db)` as long as every record not named in `dirty`
    is unchanged from the base (the env's copy-on-write guarantees it).
    """

    def __init__(self, base: Mapping[str, Mapping[str, Any]]) -> None:
        self.base = base
        self._pieces: dict[str, dict[str, str]] = {}
        self._order = {name: sorted(coll) for name, coll in base.items()}

    def _piece(self, name: str, key: str) -> str:
        cache = self._pieces.setdefault(name, {})
        text = cache.get(key)
        if text is None:
            text = cache[key] = _pair_text(key, self.base[name][key])
        return text

    def digest(self, db: Mapping[str, Mapping[str, Any]], dirty: Mapping[str, set[str]]) -> str:
        """The hash of `db`, re-rendering only the `dirty` records."""
        if sorted(db) != sorted(self.base) or any(len(db[n]) != len(self.base[n]) for n in db):
            return tau_hash({n: dict(c) for n, c in db.items()})
        top: list[str] = []
        for name in sorted(db):
            changed = dirty.get(name, set())
            coll = db[name]
            parts = [
                _pair_text(key, coll[key]) if key in changed else self._piece(name, key)
                for key in self._order[name]
            ]
            top.append(f"({name!r}, {_tuple_text(parts)})")
        return hashlib.sha256(_tuple_text(top).encode("utf-8")).hexdigest()
