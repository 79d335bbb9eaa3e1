"""Writes that outlast a busy store: tried again, with backoff, until they commit.

SQLite lets one writer at a time in. A writer that finds the store taken waits for it (the
store's busy timeout, 10 s) and then gives up with ``sqlite3.OperationalError: database is
locked``. Something else holding the write lock longer than that (a long maintenance job, an
administrator's ``sqlite3`` shell left in a transaction, a slow disk) would then drop whatever
was being written; for an alert that means losing it, and for a role's main loop, dying.

Two tools keep those writes:

- :func:`retry_while_busy` runs a write again while it fails only because the store is busy
  or locked; any other error is raised at once. The caller waits: right for the detection
  core's alerts (the core holds the alert until it is stored, then announces it; frames that
  go stale meanwhile are dropped and counted by the batcher).
- :class:`WriteQueue` runs writes in a thread of its own, in the order they were submitted,
  each with :func:`retry_while_busy`: for callers that must never wait on the store, such as
  the camera readers, whose stream backs up while they wait.

Each attempt that found the store busy is counted in ``matthan_store_retries_total``
(label ``operation``); a write given up is counted in ``matthan_store_writes_dropped_total``.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import Counter

T = TypeVar("T")
log = logging.getLogger(__name__)

STORE_RETRIES = Counter(
    "matthan_store_retries",
    "Store writes tried again because the store was busy or locked past its busy timeout,"
    " by operation (add_alert, end_alert, segment, camera_event, migrate...)",
    ["operation"],
)
STORE_WRITES_DROPPED = Counter(
    "matthan_store_writes_dropped",
    "Store writes given up, by operation: heartbeat (skipped, the next beat comes soon),"
    " or a queued write that failed for good or was still waiting when its process stopped",
    ["operation"],
)
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def is_busy(error: sqlite3.Error) -> bool:
    """Whether ``error`` says only that another connection holds the store (worth a retry)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    text = str(error)
    return "locked" in text or "busy" in text


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How to wait between attempts. Each attempt itself may wait the store's busy timeout,
    so the delays here matter only for errors that come back at once."""

    first_delay_s: float = 0.1
    max_delay_s: float = 2.0


UNTIL_COMMITTED = RetryPolicy()


def retry_while_busy(
    operation: str,
    write: Callable[[], T],
    policy: RetryPolicy = UNTIL_COMMITTED,
    give_up: Callable[[], bool] | None = None,
) -> T:
    """Run ``write`` until it returns, trying again while the store is busy or locked.

    ``write`` must be one whole transaction (a failed attempt committed nothing, so running
    it again stores it once). ``give_up``, if given, is asked after each busy attempt: when it
    says True the last error is raised. Without it the call waits as long as the store does.
    """
    delay, attempts, started = policy.first_delay_s, 0, time.monotonic()
    while True:
        try:
            result = write()
        except sqlite3.OperationalError as error:
            if not is_busy(error) or (give_up is not None and give_up()):
                raise
            attempts += 1
            STORE_RETRIES.labels(operation).inc()
            waited = time.monotonic() - started
            log.warning(
                "store busy for %.0f s: %s tried again (attempt %d)",
                waited,
                operation,
                attempts + 1,
            )
            time.sleep(delay)
            delay = min(policy.max_delay_s, delay * 2)
            continue
        if attempts:
            waited = time.monotonic() - started
            log.warning("store free again: %s stored after %.1f s", operation, waited)
        return result


class WriteQueue:
    """Store writes done in order by a thread of their own, each retried while the store is
    busy; whoever submits them never waits and never sees a store error.

    A write that fails for another reason is logged and dropped (counted), and the next one
    goes ahead. At :meth:`close` the thread keeps trying what is left for a while, then gives
    up (counted): the process is stopping, and what was not written must be recoverable from
    elsewhere (for segments: the next worker indexes the files it finds unindexed).
    """

    def __init__(self, name: str, max_pending: int = 10_000) -> None:
        self._pending: queue.Queue[tuple[str, Callable[[], object]] | None] = queue.Queue(
            max_pending
        )
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, operation: str, write: Callable[[], object]) -> None:
        """Queue ``write`` (one whole transaction); dropped (counted) only if the queue is full."""
        try:
            self._pending.put_nowait((operation, write))
        except queue.Full:
            STORE_WRITES_DROPPED.labels(operation).inc()
            log.error("store write queue full; %s dropped", operation)

    def pending(self) -> int:
        """Writes not done yet (approximate)."""
        return self._pending.qsize()

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish the queued writes, giving up on what is left after ``timeout_s``."""
        self._deadline = time.monotonic() + timeout_s
        self._pending.put(None)
        self._thread.join(timeout_s + 1.0)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    def _run(self) -> None:
        while (item := self._pending.get()) is not None:
            operation, write = item
            if self._past_deadline():
                STORE_WRITES_DROPPED.labels(operation).inc()
                log.error("stopping with the store busy: %s not written", operation)
                continue
            try:
                retry_while_busy(operation, write, give_up=self._past_deadline)
            except Exception:
                STORE_WRITES_DROPPED.labels(operation).inc()
                log.exception("store write %s failed; dropped", operation)
