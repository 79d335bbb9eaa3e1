"""The alerts table (``alerts``, and ``alert_images``: each alert's pictures) and its queries.

``alerts`` holds the live alerts (``job_id`` NULL) and the findings of re-analysis jobs
(``job_id`` the job's: :mod:`common.jobs`, :mod:`common.findings_migration`). Every query here
is of the live alerts (``job_id IS NULL``); a finding is read through :mod:`common.jobs`.
Functions take the store (:class:`common.db.Database`, the connection, which knows no table)
as their first argument; :mod:`common.migrations` creates the tables. Writes go through
:meth:`~common.db.Database.write`, so a store opened with a retry policy retries them.

An alert is committed with its pictures in one transaction, and a producer's ``uid`` makes
storing it again a no-op (a message delivered twice is one alert)::

    alert_id = alert_rows.add_alert(store, NewAlert(...))
    alert_rows.end_alert(store, alert_id, ended_at=time.time())
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.box_text import box_from_text, box_to_text
from common.messages import Severity

if TYPE_CHECKING:
    from common.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    rule        TEXT NOT NULL,
    class_name  TEXT NOT NULL DEFAULT '',
    track_id    INTEGER,
    severity    TEXT NOT NULL,
    confidence  REAL,
    box         TEXT,
    started_at  REAL NOT NULL,
    ended_at    REAL,
    created_at  REAL NOT NULL,
    triggered_at REAL,
    state       TEXT NOT NULL DEFAULT 'new',
    job_id      INTEGER,
    uid         TEXT
);
CREATE INDEX IF NOT EXISTS alerts_camera_time ON alerts (camera_id, started_at);
CREATE TABLE IF NOT EXISTS alert_images (
    alert_id    INTEGER PRIMARY KEY REFERENCES alerts (id),
    snapshot    BLOB NOT NULL,
    crop        BLOB
);
"""


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


def add_alert(store: Database, alert: NewAlert, *, job_id: int | None = None) -> int:
    """Commit an alert and its pictures; returns its id once it is durable. With a
    ``job_id`` it is that re-analysis job's finding (:mod:`common.jobs`), which the live
    queries here (``job_id IS NULL``) never answer."""
    return store.write("add_alert", lambda: _insert_alert(store, alert, job_id))


def _insert_alert(store: Database, alert: NewAlert, job_id: int | None) -> int:
    box = box_to_text(alert.box)
    with store.transaction() as db:
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


def end_alert(store: Database, alert_id: int, ended_at: float) -> None:
    """Record when the situation behind a live alert was over (a finding's end:
    :func:`common.jobs.end_job_alert`)."""

    def update() -> None:
        with store.transaction() as db:
            db.execute(
                "UPDATE alerts SET ended_at=? WHERE id=? AND job_id IS NULL",
                (ended_at, alert_id),
            )

    store.write("end_alert", update)


def end_alert_by_uid(store: Database, uid: str, ended_at: float) -> int | None:
    """End the alert a producer knows as ``uid``; returns its id (None: not stored).
    Ending it again changes nothing."""

    def update() -> int | None:
        with store.transaction() as db:
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

    return store.write("end_alert", update)


@dataclass(frozen=True, slots=True)
class EndedAlert:
    """An alert ended on a producer's behalf: what the feed's notice needs."""

    id: int
    camera_id: str
    kind: str


def end_alerts_of_origin(store: Database, origin: str, ended_at: float) -> list[EndedAlert]:
    """End every open live alert whose uid its producer's store ``origin`` made
    (``<origin>-<row>``: a lost node's, :mod:`matthan.cluster.intake`); the ones ended."""

    def update() -> list[EndedAlert]:
        with store.transaction() as db:
            rows = db.execute(  # the uids that begin "<origin>-": a range of alerts_uid
                "SELECT id, camera_id, kind FROM alerts WHERE uid >= ? AND uid < ?"
                " AND ended_at IS NULL AND job_id IS NULL",
                (f"{origin}-", f"{origin}."),
            ).fetchall()
            db.executemany(
                "UPDATE alerts SET ended_at=? WHERE id=? AND ended_at IS NULL",
                [(ended_at, row[0]) for row in rows],
            )
        return [EndedAlert(int(row[0]), str(row[1]), str(row[2])) for row in rows]

    return store.write("end_alert", update)


def recent_alerts(
    store: Database, limit: int = 50, before_id: int | None = None
) -> list[AlertRecord]:
    """Newest first; ``before_id`` pages back through history."""
    rows = store.read(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id < ? AND job_id IS NULL"
        " ORDER BY id DESC LIMIT ?",
        (before_id if before_id is not None else 2**62, limit),
    )
    return [_alert_from_row(row) for row in rows]


def alerts_after(store: Database, alert_id: int, limit: int = 500) -> list[AlertRecord]:
    """Oldest first: what a reconnecting client missed since ``alert_id``."""
    rows = store.read(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id > ? AND job_id IS NULL ORDER BY id LIMIT ?",
        (alert_id, limit),
    )
    return [_alert_from_row(row) for row in rows]


def alert(store: Database, alert_id: int) -> AlertRecord | None:
    """The live alert ``alert_id``; None for a re-analysis finding
    (:func:`common.jobs.job_alert`)."""
    rows = store.read(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ? AND job_id IS NULL", (alert_id,)
    )
    return _alert_from_row(rows[0]) if rows else None


def snapshot(store: Database, alert_id: int, crop: bool = False) -> bytes | None:
    """The live alert's JPEG: the whole frame with the box drawn, or the clean crop (a
    finding's: :func:`common.jobs.job_alert_picture`)."""
    column = "crop" if crop else "snapshot"
    rows = store.read(
        f"SELECT i.{column} FROM alert_images i JOIN alerts a ON a.id = i.alert_id"
        " WHERE i.alert_id = ? AND a.job_id IS NULL",
        (alert_id,),
    )
    return bytes(rows[0][0]) if rows and rows[0][0] is not None else None


class LiveAlerts:
    """The live alerts of ``store`` as an :class:`common.alert_writer.AlertSink`: what the
    one writer commits every producer's alerts to (a job's findings: ``JobAlertSink``)."""

    def __init__(self, store: Database) -> None:
        self.store = store

    def add_alert(self, alert: NewAlert, /) -> int:
        return add_alert(self.store, alert)

    def end_alert(self, alert_id: int, ended_at: float, /) -> None:
        end_alert(self.store, alert_id, ended_at)
