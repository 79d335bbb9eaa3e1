"""Heartbeats: each long-running role says "alive" in the store; /readyz reads them.

A role calls :func:`beat` every few seconds from its main loop. Reading them back gives
the age of each role's last beat, so readiness means "the store answers and every role
beat recently", checked across processes without any extra channel.
"""

from __future__ import annotations

import time

from common.store import Store

BEAT_EVERY_S = 2.0
SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS heartbeats (
    role TEXT PRIMARY KEY,
    at   REAL NOT NULL,
    info TEXT NOT NULL DEFAULT ''
)
"""


class Heartbeat:
    """Rate-limited beats for one role: call :meth:`maybe_beat` as often as you like."""

    def __init__(self, store: Store, role: str) -> None:
        self._store = store
        self.role = role
        self._last = 0.0
        with store.transaction() as db:
            db.execute(SCHEMA_SQL)

    def maybe_beat(self, info: str = "") -> None:
        now = time.time()
        if now - self._last < BEAT_EVERY_S:
            return
        self._last = now
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO heartbeats (role, at, info) VALUES (?,?,?) "
                "ON CONFLICT(role) DO UPDATE SET at=excluded.at, info=excluded.info",
                (self.role, now, info),
            )


def heartbeat_ages(store: Store) -> dict[str, float]:
    """Seconds since each role's last beat."""
    with store.transaction() as db:
        db.execute(SCHEMA_SQL)
    now = time.time()
    return {row["role"]: now - row["at"] for row in store.read("SELECT role, at FROM heartbeats")}
