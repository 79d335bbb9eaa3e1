"""A store held by another connection past its busy timeout, on a real SQLite file: writes
retried until they commit (in order, once each), heartbeats skipped and resumed at once, the
supervisor's hung check and "analysis down" alert unmoved by the lock. The whole service
under such a lock: ``tests/test_faults.py``."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sqlite3
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from common import alert_rows
from common.alert_rows import NewAlert
from common.channel import Channel, DropPolicy
from common.heartbeat import BEAT_TIMEOUT_S, Heartbeat
from common.messages import AlertNotice, Severity
from common.roles import DETECT_ROLE
from common.store import Store
from common.store_retry import UNTIL_COMMITTED, WriteQueue, retry_while_busy
from matthan.analysis_watch import HUNG_AFTER_S, AnalysisWatch

BUSY_TIMEOUT_S = 0.2
"""Short, so that a lock of a second outlasts it several times."""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    Store(tmp_path / "store.db").close()  # the schema, before anyone holds the lock
    return tmp_path / "store.db"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another connection holds the write lock (``BEGIN EXCLUSIVE``) for the duration."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            db.execute("COMMIT")


def counted(name: str, operation: str) -> float:
    return REGISTRY.get_sample_value(name, {"operation": operation}) or 0.0


def alert(camera_id: str) -> NewAlert:
    return NewAlert(camera_id, "intrusion", "vao", Severity.WARNING, time.time(), b"jpeg")


def test_an_alert_written_during_a_long_lock_waits_and_is_stored_once(path: Path) -> None:
    store = Store(path, busy_timeout_s=BUSY_TIMEOUT_S, retry=UNTIL_COMMITTED)
    retries = counted("matthan_store_retries_total", "add_alert")
    stored: list[int] = []
    writer = threading.Thread(
        target=lambda: stored.append(alert_rows.add_alert(store, alert("cam")))
    )
    with locked(path):
        writer.start()
        time.sleep(1.5)  # several busy timeouts
        assert writer.is_alive(), "the write waits for the store"
    writer.join(5)
    assert len(stored) == 1
    assert [a.id for a in alert_rows.alerts_after(store, 0)] == stored
    assert counted("matthan_store_retries_total", "add_alert") - retries >= 2
    store.close()


def test_without_a_retry_policy_the_error_still_reaches_the_caller(path: Path) -> None:
    store = Store(path, busy_timeout_s=BUSY_TIMEOUT_S)
    with locked(path), pytest.raises(sqlite3.OperationalError):
        alert_rows.add_alert(store, alert("cam"))
    store.close()


def test_only_a_busy_store_is_retried() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("no such table: alerts")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_while_busy("add_alert", broken)
    assert len(calls) == 1


def test_a_heartbeat_is_skipped_during_a_lock_and_written_as_soon_as_it_ends(path: Path) -> None:
    store = Store(path)  # the store's full busy timeout: the beat waits less
    heartbeat = Heartbeat(store, DETECT_ROLE)
    skipped = counted("matthan_store_writes_dropped_total", "heartbeat")
    with locked(path):
        started = time.monotonic()
        heartbeat.maybe_beat()
        assert time.monotonic() - started < BEAT_TIMEOUT_S + 0.5
    assert counted("matthan_store_writes_dropped_total", "heartbeat") == skipped + 1
    heartbeat.maybe_beat()  # at once, not BEAT_EVERY_S later
    (row,) = store.read("SELECT at FROM heartbeats WHERE role = 'detect'")
    assert time.time() - row["at"] < 1.0
    store.close()


def test_a_core_silent_only_while_the_store_was_locked_is_not_hung(path: Path) -> None:
    """The supervisor reads a beat as old as the lock, but the core could not write it."""
    store = Store(path, busy_timeout_s=BUSY_TIMEOUT_S)
    watch = AnalysisWatch(store, None)
    Heartbeat(store, DETECT_ROLE).maybe_beat()
    beat = watch.last_beat()
    assert beat is not None
    lock_ends = beat + HUNG_AFTER_S + 10  # pretend the lock lasted past HUNG_AFTER_S
    with locked(path):
        assert not watch.is_hung(started_at=beat - 5, now=lock_ends)
    assert not watch.is_hung(started_at=beat - 5, now=lock_ends + 1)  # the lock just cleared
    assert not watch.is_hung(started_at=beat - 5, now=lock_ends + HUNG_AFTER_S - 1)
    assert watch.is_hung(started_at=beat - 5, now=lock_ends + HUNG_AFTER_S + 1)  # then hung
    store.close()


def test_analysis_down_refused_by_a_locked_store_is_raised_at_a_later_check(path: Path) -> None:
    store = Store(path, busy_timeout_s=BUSY_TIMEOUT_S)
    notices: Channel[AlertNotice] = Channel.create(
        mp.get_context("spawn"), "alert_notices", 10, policy=DropPolicy.NEWEST
    )
    watch = AnalysisWatch(store, notices)
    down_at = time.time()
    with locked(path):
        watch.went_down(at=down_at, detail="detector exited (-9)")  # logged, not raised
        watch.check()
    assert watch.alert_id is None
    assert not alert_rows.alerts_after(store, 0)
    watch.check()
    (stored,) = alert_rows.alerts_after(store, 0)
    assert (stored.kind, stored.started_at, stored.ended_at) == ("analysis_down", down_at, None)
    assert notices.receive(timeout=5) == AlertNotice(stored.id, "*", "analysis_down")
    notices.close()
    store.close()


def test_queued_writes_wait_out_a_lock_in_order_and_the_submitter_never_waits(
    path: Path,
) -> None:
    store = Store(path, busy_timeout_s=BUSY_TIMEOUT_S)
    writes = WriteQueue("test-writes")
    with locked(path):
        started = time.monotonic()
        for index in range(5):
            writes.submit("add_alert", partial(alert_rows.add_alert, store, alert(f"cam{index}")))
        assert time.monotonic() - started < 0.1
        time.sleep(1.0)
        assert writes.pending() >= 4
    writes.close(timeout_s=10)
    assert [a.camera_id for a in alert_rows.alerts_after(store, 0)] == [f"cam{i}" for i in range(5)]
    store.close()


def test_queued_writes_left_when_the_lock_outlasts_the_close_are_dropped_and_counted(
    path: Path,
) -> None:
    store = Store(path, busy_timeout_s=BUSY_TIMEOUT_S)
    writes = WriteQueue("test-writes")
    dropped = counted("matthan_store_writes_dropped_total", "segment")
    with locked(path):
        for _ in range(3):
            writes.submit("segment", lambda: alert_rows.add_alert(store, alert("cam")))
        started = time.monotonic()
        writes.close(timeout_s=0.5)
        assert time.monotonic() - started < 3
    assert counted("matthan_store_writes_dropped_total", "segment") == dropped + 3
    assert not alert_rows.alerts_after(store, 0)
    store.close()
