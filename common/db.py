"""The connection to the SQLite store: one per process, shared by its threads behind a lock.

SQLite runs in WAL mode with ``synchronous=FULL``: a committed write survives a power cut,
and readers (the dashboard) never block the writer (the detection core). This module knows
no table: :class:`Database` opens the file, runs write transactions (retried while another
connection holds the store, for a process that asks so) and reads. The tables live in their
own modules (:mod:`common.store` for the alerts, :mod:`common.accounts`, :mod:`common.recordings`
...), and :mod:`common.migrations` brings a file up to the schema this program knows.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from common.store_retry import RetryPolicy, retry_while_busy

T = TypeVar("T")


class StoreError(RuntimeError):
    """The store could not be opened or is of an unknown schema."""


class Database:
    """One process's connection to the store (see the module's docstring).

    Opened with a ``retry`` policy, the writes that go through :meth:`write` are tried again
    while another connection holds the store, until they commit (:mod:`common.store_retry`):
    the caller waits instead of losing the write.
    """

    def __init__(
        self, path: Path, busy_timeout_s: float = 10.0, retry: RetryPolicy | None = None
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._busy_timeout_ms = round(busy_timeout_s * 1000)
        self._retry = retry
        try:
            self._db = sqlite3.connect(
                path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")

    def write(self, operation: str, write: Callable[[], T]) -> T:
        """Run ``write`` (one write transaction), retried while busy if the store has a retry
        policy."""
        if self._retry is None:
            return write()
        return retry_while_busy(operation, write, self._retry)

    @contextmanager
    def transaction(self, busy_timeout_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): committed on exit, rolled back on error.

        ``busy_timeout_s`` waits that long (instead of the store's busy timeout) for another
        connection's write lock: for writes that are better skipped than waited for.
        """
        with self._lock, self._busy_timeout(busy_timeout_s):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _busy_timeout(self, seconds: float | None) -> Iterator[None]:
        """Another busy timeout for the duration (the caller holds ``_lock``)."""
        if seconds is None:
            yield
            return
        self._db.execute(f"PRAGMA busy_timeout={round(seconds * 1000)}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")

    def can_write(self, timeout_s: float) -> bool:
        """Whether a write could start within ``timeout_s``: takes the write lock and lets it
        go at once, writing nothing (a probe for "is another connection holding the store")."""
        try:
            with self.transaction(busy_timeout_s=timeout_s):
                pass
        except sqlite3.OperationalError:
            return False
        return True

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Run one query and return its rows."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
