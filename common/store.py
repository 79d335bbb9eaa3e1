"""The store: alerts, their pictures and camera state changes, in SQLite.

SQLite runs in WAL mode with ``synchronous=FULL``: a committed alert survives a power
cut, and readers (the dashboard) never block the writer (the detection core). Each
process opens its own :class:`Store`; one connection is shared by the threads of a
process behind a lock.

A :class:`Store` is the connection (:class:`common.db.Database`, which knows no table)
brought up to date by :mod:`common.migrations` when it opens, with the queries of the alerts
and camera states (their tables: :mod:`common.alert_tables`). Other areas keep their tables
and queries in modules of their own (:mod:`common.accounts`, :mod:`common.recordings`) that
use :meth:`Store.transaction` and :meth:`Store.read`.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from common.alert_tables import SCHEMA
from common.box_text import box_from_text, box_to_text
from common.db import Database, StoreError
from common.messages import CameraState, CameraStatus, Severity
from common.migrations import SCHEMA_VERSION, migrate
from common.store_retry import RetryPolicy

T = TypeVar("T")
__all__ = ["SCHEMA", "SCHEMA_VERSION", "AlertRecord", "NewAlert", "Store", "StoreError"]


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert about to be stored; pictures are JPEG bytes."""

    camera_id: str
    kind: str
    rule: str
    severity: Severity
    started_at: float
    snapshot_jpeg: bytes
    class_name: str = ""
    track_id: int | None = None
    confidence: float | None = None
    box: tuple[float, float, float, float] | None = None
    crop_jpeg: bytes | None = None
    triggered_at: float | None = None
    """Capture time of the frame that raised the alert (``started_at`` is when the
    situation began, which can be earlier): alert latency is measured from it."""
    uid: str | None = None
    """A producer's own id for the alert: storing an alert whose ``uid`` is stored already
    stores nothing and answers the stored id (a message delivered twice is one alert)."""


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert as stored."""

    id: int
    camera_id: str
    kind: str
    rule: str
    class_name: str
    track_id: int | None
    severity: str
    confidence: float | None
    box: tuple[float, float, float, float] | None
    started_at: float
    ended_at: float | None
    created_at: float
    state: str
    triggered_at: float | None = None


_ALERT_COLUMNS = (
    "id, camera_id, kind, rule, class_name, track_id, severity, confidence, box, "
    "started_at, ended_at, created_at, state, triggered_at"
)


def _alert_from_row(row: sqlite3.Row) -> AlertRecord:
    return AlertRecord(
        id=row["id"],
        camera_id=row["camera_id"],
        kind=row["kind"],
        rule=row["rule"],
        class_name=row["class_name"],
        track_id=row["track_id"],
        severity=row["severity"],
        confidence=row["confidence"],
        box=box_from_text(row["box"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        created_at=row["created_at"],
        triggered_at=row["triggered_at"],
        state=row["state"],
    )


class Store(Database):
    """One process's handle on the SQLite store.

    Opened with a ``retry`` policy, the store's own writes (its schema at open, alerts and
    their ends, camera events) are tried again while another connection holds the store,
    until they commit (:mod:`common.store_retry`): the caller waits instead of losing the
    write. The detection core opens its store so; a process that must not wait (the
    supervisor, which also restarts roles) opens it without, and handles the error.
    """

    def __init__(
        self, path: Path, busy_timeout_s: float = 10.0, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(path, busy_timeout_s, retry)
        self.write("migrate", lambda: migrate(self))

    def add_alert(self, alert: NewAlert, *, job_id: int | None = None) -> int:
        """Commit an alert and its pictures; returns its id once it is durable. With a
        ``job_id`` it is that re-analysis job's finding (:mod:`common.jobs`), which the live
        queries here (``job_id IS NULL``) never answer."""
        return self.write("add_alert", lambda: self._insert_alert(alert, job_id))

    def _insert_alert(self, alert: NewAlert, job_id: int | None) -> int:
        box = box_to_text(alert.box)
        with self.transaction() as db:
            if alert.uid is not None:
                stored = db.execute("SELECT id FROM alerts WHERE uid = ?", (alert.uid,)).fetchone()
                if stored is not None:
                    return int(stored[0])
            cursor = db.execute(
                "INSERT INTO alerts (camera_id, kind, rule, class_name, track_id, severity,"
                " confidence, box, started_at, created_at, triggered_at, uid, job_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    alert.camera_id,
                    alert.kind,
                    alert.rule,
                    alert.class_name,
                    alert.track_id,
                    alert.severity.value,
                    alert.confidence,
                    box,
                    alert.started_at,
                    time.time(),
                    alert.triggered_at,
                    alert.uid,
                    job_id,
                ),
            )
            alert_id = cursor.lastrowid
            assert alert_id is not None
            db.execute(
                "INSERT INTO alert_images (alert_id, snapshot, crop) VALUES (?,?,?)",
                (alert_id, alert.snapshot_jpeg, alert.crop_jpeg),
            )
        return alert_id

    def end_alert(self, alert_id: int, ended_at: float) -> None:
        """Record when the situation behind a live alert was over (a finding's end:
        :func:`common.jobs.end_job_alert`)."""

        def update() -> None:
            with self.transaction() as db:
                db.execute(
                    "UPDATE alerts SET ended_at=? WHERE id=? AND job_id IS NULL",
                    (ended_at, alert_id),
                )

        self.write("end_alert", update)

    def end_alert_by_uid(self, uid: str, ended_at: float) -> int | None:
        """End the alert a producer knows as ``uid``; returns its id (None: not stored).
        Ending it again changes nothing."""

        def update() -> int | None:
            with self.transaction() as db:
                row = db.execute(
                    "SELECT id FROM alerts WHERE uid = ? AND job_id IS NULL", (uid,)
                ).fetchone()
                if row is None:
                    return None
                db.execute(
                    "UPDATE alerts SET ended_at=? WHERE id=? AND ended_at IS NULL",
                    (ended_at, row[0]),
                )
                return int(row[0])

        return self.write("end_alert", update)

    def recent_alerts(self, limit: int = 50, before_id: int | None = None) -> list[AlertRecord]:
        """Newest first; ``before_id`` pages back through history."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id < ? AND job_id IS NULL"
                " ORDER BY id DESC LIMIT ?",
                (before_id if before_id is not None else 2**62, limit),
            ).fetchall()
        return [_alert_from_row(row) for row in rows]

    def alerts_after(self, alert_id: int, limit: int = 500) -> list[AlertRecord]:
        """Oldest first: what a reconnecting client missed since ``alert_id``."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id > ? AND job_id IS NULL"
                " ORDER BY id LIMIT ?",
                (alert_id, limit),
            ).fetchall()
        return [_alert_from_row(row) for row in rows]

    def alert(self, alert_id: int) -> AlertRecord | None:
        """The live alert ``alert_id``; None for a re-analysis finding
        (:func:`common.jobs.job_alert`)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ? AND job_id IS NULL", (alert_id,)
            ).fetchone()
        return _alert_from_row(row) if row else None

    def snapshot(self, alert_id: int, crop: bool = False) -> bytes | None:
        """The live alert's JPEG: the whole frame with the box drawn, or the clean crop (a
        finding's: :func:`common.jobs.job_alert_picture`)."""
        column = "crop" if crop else "snapshot"
        with self._lock:
            row = self._db.execute(
                f"SELECT i.{column} FROM alert_images i JOIN alerts a ON a.id = i.alert_id"
                " WHERE i.alert_id = ? AND a.job_id IS NULL",
                (alert_id,),
            ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def add_camera_status(self, status: CameraStatus) -> None:
        def insert() -> None:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO camera_events (camera_id, state, at, detail) VALUES (?,?,?,?)",
                    (status.camera_id, status.state.value, status.at, status.detail),
                )

        self.write("camera_event", insert)

    def set_decode_mode(self, camera_id: str, keyframes_only: bool, at: float) -> None:
        """Since ``at`` the camera is decoded keyframes only (idle) or fully; one row per
        camera, replaced at each change (a mode is no event: the history is not kept)."""

        def upsert() -> None:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO camera_decode (camera_id, keyframes_only, at) VALUES (?,?,?) "
                    "ON CONFLICT(camera_id) DO UPDATE "
                    "SET keyframes_only=excluded.keyframes_only, at=excluded.at",
                    (camera_id, int(keyframes_only), at),
                )

        self.write("decode_mode", upsert)

    def keyframes_only_cameras(self) -> dict[str, bool]:
        """Whether each camera that ever reported a decode mode is decoded keyframes only."""
        with self._lock:
            rows = self._db.execute("SELECT camera_id, keyframes_only FROM camera_decode")
            return {row["camera_id"]: bool(row["keyframes_only"]) for row in rows.fetchall()}

    def latest_camera_states(self) -> dict[str, CameraStatus]:
        """The last known state of every camera that ever reported one."""
        with self._lock:
            rows = self._db.execute(
                "SELECT camera_id, state, at, detail FROM camera_events WHERE id IN "
                "(SELECT MAX(id) FROM camera_events GROUP BY camera_id)"
            ).fetchall()
        return {
            row["camera_id"]: CameraStatus(
                row["camera_id"], CameraState(row["state"]), row["at"], row["detail"]
            )
            for row in rows
        }
