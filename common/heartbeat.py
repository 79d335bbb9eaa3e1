"""Heartbeats: each long-running role says "alive" in the store; /readyz reads them.

A role calls :meth:`Heartbeat.maybe_beat` every few seconds from its main loop. Reading them
back gives the age of each role's last beat, so readiness means "the store answers and every
role beat recently", checked across processes without any extra channel.

A beat is the one write that is better skipped than waited for: it waits at most
:data:`BEAT_TIMEOUT_S` for the store and, when another connection holds it, is skipped
(``matthan_store_writes_dropped_total{operation="heartbeat"}``) and tried again at the next
call, so the role's loop goes on and the first beat after the store is free again comes at
once. Whoever judges a silent role must therefore know whether the store let it beat
(:meth:`matthan.analysis_watch.AnalysisWatch.is_hung`).

The table is created with the rest of the schema when a :class:`~common.store.Store` opens,
so reading ages never writes.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import TYPE_CHECKING

from common.store_retry import STORE_WRITES_DROPPED, is_busy

if TYPE_CHECKING:
    from common.store import Store

log = logging.getLogger(__name__)
BEAT_EVERY_S = 2.0
BEAT_TIMEOUT_S = 0.5
"""How long a beat waits for another connection's write lock before it is skipped."""
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
        self._skipped = 0

    def maybe_beat(self, info: str = "") -> None:
        """Beat if the last beat is :data:`BEAT_EVERY_S` old; skip it if the store is busy."""
        now = time.time()
        if now - self._last < BEAT_EVERY_S:
            return
        try:
            with self._store.transaction(busy_timeout_s=BEAT_TIMEOUT_S) as db:
                db.execute(
                    "INSERT INTO heartbeats (role, at, info) VALUES (?,?,?) "
                    "ON CONFLICT(role) DO UPDATE SET at=excluded.at, info=excluded.info",
                    (self.role, now, info),
                )
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            STORE_WRITES_DROPPED.labels("heartbeat").inc()
            if not self._skipped:
                log.warning("store busy: heartbeat of %s skipped until it is free", self.role)
            self._skipped += 1
            return
        if self._skipped:
            log.warning("store free again: %s beats (%d skipped)", self.role, self._skipped)
            self._skipped = 0
        self._last = now


def heartbeat_ages(store: Store) -> dict[str, float]:
    """Seconds since each role's last beat."""
    now = time.time()
    return {row["role"]: now - row["at"] for row in store.read("SELECT role, at FROM heartbeats")}
