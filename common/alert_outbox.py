"""A node's outbox: what of its store it has sent to the station, and what is still to send.

On a site of several machines (``docs/SCALING.md``) an analysis node stores its alerts and its
cameras' states in its own SQLite store exactly as a single machine does (commit first), and
a relay (:mod:`matthan.cluster.outbox`) then sends them to the station's alert stream. This
module is that relay's memory: one row, ``alert_outbox``, with the node store's ``origin`` (a
random id made once, so the uids of two stores never meet even when their row ids do) and four
cursors: the last alert id whose ``opened`` is sent, the last ``(ended_at, id)`` whose
``ended`` is sent, the last camera event sent, and the last recorded segment announced (its
file stays on the node; the station indexes it and fetches it when watched). A cursor moves
only after the stream holds the event, so a relay killed between the two sends the event again,
which the stream and the station drop as a duplicate (the uid).

A segment the node announced and its retention later deleted leaves a tombstone in
``removed_segments`` (a trigger on ``segments``, in this store only), which the relay announces
and then drops, so the station's index forgets it too. Segments never announced leave none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from common.alert_rows import NewAlert
from common.box_text import box_from_text
from common.messages import CameraState, CameraStatus, Severity
from common.migrations import statements
from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_outbox (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    origin          TEXT NOT NULL,
    opened_through  INTEGER NOT NULL DEFAULT 0,
    ended_at        REAL NOT NULL DEFAULT 0,
    ended_id        INTEGER NOT NULL DEFAULT 0,
    events_through  INTEGER NOT NULL DEFAULT 0,
    segments_through INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_ended ON alerts (ended_at, id) WHERE ended_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS removed_segments (
    id          INTEGER PRIMARY KEY,
    segment_id  INTEGER NOT NULL,
    camera_id   TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS segment_removal_to_announce AFTER DELETE ON segments
WHEN OLD.node IS NULL AND OLD.id <= (SELECT segments_through FROM alert_outbox WHERE id = 1)
BEGIN
    INSERT INTO removed_segments (segment_id, camera_id) VALUES (OLD.id, OLD.camera_id);
END;
"""


@dataclass(frozen=True, slots=True)
class OutboxCursor:
    """How far the relay got (see the module's docstring)."""

    origin: str
    opened_through: int
    ended_at: float
    ended_id: int
    events_through: int
    segments_through: int = 0


@dataclass(frozen=True, slots=True)
class PendingOpen:
    """An alert to announce: ``alert`` carries its uid."""

    row_id: int
    alert: NewAlert


@dataclass(frozen=True, slots=True)
class PendingEnd:
    row_id: int
    camera_id: str
    kind: str
    uid: str
    ended_at: float


@dataclass(frozen=True, slots=True)
class PendingCameraEvent:
    row_id: int
    uid: str
    status: CameraStatus


@dataclass(frozen=True, slots=True)
class PendingRemoval:
    """A segment the node announced and then deleted (its retention): ``row_id`` is the
    tombstone's, ``segment_id`` the segment's id in the node's store."""

    row_id: int
    uid: str
    segment_id: int
    camera_id: str


@dataclass(frozen=True, slots=True)
class PendingSegment:
    """A finished segment of the node's store to announce: ``row_id`` is its id there."""

    row_id: int
    uid: str
    camera_id: str
    start: float
    end: float
    bytes: int


def cursor(store: Store) -> OutboxCursor:
    """The relay's cursor, made (with its table and a new origin) the first time it is asked
    for: only a node's store has the table. The relay reads it once and then keeps it."""
    with store.transaction() as db:
        for statement in statements(SCHEMA):  # whole: the trigger's body holds a ";"
            db.execute(statement)
        db.execute(
            "INSERT INTO alert_outbox (id, origin) VALUES (1, ?) ON CONFLICT(id) DO NOTHING",
            (uuid.uuid4().hex,),
        )
        row = db.execute(
            "SELECT origin, opened_through, ended_at, ended_id, events_through, segments_through"
            " FROM alert_outbox WHERE id = 1"
        ).fetchone()
    return OutboxCursor(
        str(row[0]), int(row[1]), float(row[2]), int(row[3]), int(row[4]), int(row[5])
    )


def alert_uid(origin: str, row_id: int, own: str | None) -> str:
    """The alert's uid on the stream: the producer's own if it set one, else origin + row."""
    return own if own is not None else f"{origin}-{row_id}"


def pending_opens(store: Store, at: OutboxCursor, limit: int = 64) -> list[PendingOpen]:
    """Live alerts stored after ``at.opened_through``, oldest first, with their pictures (a
    re-analysis finding stays in its store: ``job_id`` set)."""
    rows = store.read(
        "SELECT a.id, a.camera_id, a.kind, a.rule, a.class_name, a.track_id, a.severity,"
        " a.confidence, a.box, a.started_at, a.triggered_at, a.uid, i.snapshot, i.crop"
        " FROM alerts a LEFT JOIN alert_images i ON i.alert_id = a.id"
        " WHERE a.id > ? AND a.job_id IS NULL ORDER BY a.id LIMIT ?",
        (at.opened_through, limit),
    )
    return [
        PendingOpen(
            int(row["id"]),
            NewAlert(
                camera_id=row["camera_id"],
                kind=row["kind"],
                rule=row["rule"],
                severity=Severity(row["severity"]),
                started_at=float(row["started_at"]),
                snapshot_jpeg=bytes(row["snapshot"] or b""),
                class_name=row["class_name"],
                track_id=row["track_id"],
                confidence=row["confidence"],
                box=box_from_text(row["box"]),
                crop_jpeg=bytes(row["crop"]) if row["crop"] is not None else None,
                triggered_at=row["triggered_at"],
                uid=alert_uid(at.origin, int(row["id"]), row["uid"]),
            ),
        )
        for row in rows
    ]


def pending_ends(store: Store, at: OutboxCursor, limit: int = 64) -> list[PendingEnd]:
    """Live alerts ended after ``(at.ended_at, at.ended_id)`` whose ``opened`` is sent, in the
    order they ended."""
    rows = store.read(
        "SELECT id, camera_id, kind, uid, ended_at FROM alerts"
        " WHERE ended_at IS NOT NULL AND job_id IS NULL AND id <= ?"
        " AND (ended_at > ? OR (ended_at = ? AND id > ?))"
        " ORDER BY ended_at, id LIMIT ?",
        (at.opened_through, at.ended_at, at.ended_at, at.ended_id, limit),
    )
    return [
        PendingEnd(
            int(row["id"]),
            row["camera_id"],
            row["kind"],
            alert_uid(at.origin, int(row["id"]), row["uid"]),
            float(row["ended_at"]),
        )
        for row in rows
    ]


def pending_camera_events(
    store: Store, at: OutboxCursor, limit: int = 64
) -> list[PendingCameraEvent]:
    """Camera state changes stored after ``at.events_through``, oldest first."""
    rows = store.read(
        "SELECT id, camera_id, state, at, detail FROM camera_events WHERE id > ?"
        " ORDER BY id LIMIT ?",
        (at.events_through, limit),
    )
    return [
        PendingCameraEvent(
            int(row["id"]),
            f"{at.origin}-camera-{row['id']}",
            CameraStatus(row["camera_id"], CameraState(row["state"]), row["at"], row["detail"]),
        )
        for row in rows
    ]


def pending_segments(store: Store, at: OutboxCursor, limit: int = 64) -> list[PendingSegment]:
    """The node's own segments indexed after ``at.segments_through``, oldest first."""
    rows = store.read(
        "SELECT id, camera_id, start, end, bytes FROM segments"
        " WHERE id > ? AND node IS NULL ORDER BY id LIMIT ?",
        (at.segments_through, limit),
    )
    return [
        PendingSegment(
            int(row["id"]),
            f"{at.origin}-seg-{row['id']}",
            row["camera_id"],
            float(row["start"]),
            float(row["end"]),
            int(row["bytes"]),
        )
        for row in rows
    ]


def pending_removals(store: Store, at: OutboxCursor, limit: int = 64) -> list[PendingRemoval]:
    """Announced segments the node has deleted since, oldest first (their tombstones, written
    by the trigger on ``segments``; :func:`removal_sent` drops one once the stream holds it)."""
    rows = store.read(
        "SELECT id, segment_id, camera_id FROM removed_segments ORDER BY id LIMIT ?", (limit,)
    )
    return [
        PendingRemoval(
            int(row["id"]),
            f"{at.origin}-seg-{row['segment_id']}",
            int(row["segment_id"]),
            row["camera_id"],
        )
        for row in rows
    ]


def removal_sent(store: Store, row_id: int) -> None:
    """The stream holds the removal of tombstone ``row_id``: drop it."""
    with store.transaction() as db:
        db.execute("DELETE FROM removed_segments WHERE id = ?", (row_id,))


def advance(
    store: Store,
    *,
    opened_through: int | None = None,
    ended: tuple[float, int] | None = None,
    events_through: int | None = None,
    segments_through: int | None = None,
) -> None:
    """Move the cursors that are given (after the stream holds what they pass)."""
    with store.transaction() as db:
        if opened_through is not None:
            db.execute("UPDATE alert_outbox SET opened_through = ? WHERE id = 1", (opened_through,))
        if ended is not None:
            db.execute(
                "UPDATE alert_outbox SET ended_at = ?, ended_id = ? WHERE id = 1",
                (ended[0], ended[1]),
            )
        if events_through is not None:
            db.execute("UPDATE alert_outbox SET events_through = ? WHERE id = 1", (events_through,))
        if segments_through is not None:
            db.execute(
                "UPDATE alert_outbox SET segments_through = ? WHERE id = 1", (segments_through,)
            )
