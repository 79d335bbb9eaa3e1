"""The store: one process's handle on the SQLite file, brought up to date when it opens.

SQLite runs in WAL mode with ``synchronous=FULL``: a committed alert survives a power
cut, and readers (the dashboard) never block the writer (the detection core). Each
process opens its own :class:`Store`; one connection is shared by the threads of a
process behind a lock.

A :class:`Store` is the connection (:class:`common.db.Database`, which knows no table)
brought up to date by :mod:`common.migrations` when it opens. Each table's statements and
queries are a module of their own that takes the store as its first argument:
:mod:`common.alert_rows` (alerts and their pictures), :mod:`common.camera_states`,
:mod:`common.accounts`, :mod:`common.recordings`, :mod:`common.jobs`...
"""

from __future__ import annotations

from pathlib import Path

from common.db import Database, StoreError
from common.migrations import SCHEMA_VERSION, migrate
from common.store_retry import RetryPolicy

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]


class Store(Database):
    """One process's handle on the SQLite store.

    Opened with a ``retry`` policy, the writes of the table modules (and the schema at open)
    are tried again while another connection holds the store, until they commit
    (:mod:`common.store_retry`): the caller waits instead of losing the write. The detection
    core opens its store so; a process that must not wait (the supervisor, which also
    restarts roles) opens it without, and handles the error.
    """

    def __init__(
        self, path: Path, busy_timeout_s: float = 10.0, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(path, busy_timeout_s, retry)
        self.write("migrate", lambda: migrate(self))
