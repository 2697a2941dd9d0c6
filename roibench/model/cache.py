"""Response cache (opt-in, on disk): a re-run of the same suite makes no model calls.

Keyed by provider, model, messages, tools, params and trial index. Each entry keeps the raw
response and what the original call cost, so a cached re-run reports the original spend and
says how much of it was served from cache.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any


def cache_key(
    provider: str,
    model: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    params: dict[str, Any],
    trial: int,
) -> str:
    """Stable hash of everything that determines a response."""
    blob = json.dumps(
        {"p": provider, "m": model, "msg": messages, "t": tools, "params": params, "k": trial},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """A sqlite file of responses. Safe for one process with many coroutines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT NOT NULL, "
            "cost_usd TEXT, latency_s REAL NOT NULL)"
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[dict[str, Any], Decimal | None, float] | None:
        """(raw response, original cost, original latency) or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT body, cost_usd, latency_s FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        cost = None if row[1] is None else Decimal(row[1])
        return json.loads(row[0]), cost, float(row[2])

    def put(self, key: str, body: dict[str, Any], cost: Decimal | None, latency_s: float) -> None:
        """Store a response (first write wins)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?)",
                (key, json.dumps(body), None if cost is None else str(cost), latency_s),
            )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
