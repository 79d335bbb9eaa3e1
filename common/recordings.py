"""Recorded segments, coverage gaps and legal holds in the store.

A *segment* is one MP4 file of a camera's record stream, indexed by wall-clock start and
end. A *coverage gap* is an interval in which a camera was blind (offline, failed); it is
opened when the camera drops and closed when it is back. A *legal hold* protects a time
range of a camera from retention; placing and lifting one are audited in the same
transaction (only admins do either, see :mod:`dashboard.routes.holds`). A lifted hold's
row is deleted: its history is the audit log's.

On a site of several machines the station's ``segments`` also index the footage its nodes
recorded (:func:`add_node_segment`): such a row names its ``node`` and the segment's id there
(``remote_id``), and its ``path`` is a name, not a file (``node:<node>/<remote_id>``). The file
stays on the node; :mod:`common.node_footage` fetches a copy when it is watched or cut, and
retention here never touches it (the node's own retention does).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common import audit
from common.audit import Action

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL NOT NULL,
    path        TEXT NOT NULL UNIQUE,
    bytes       INTEGER NOT NULL,
    node        TEXT,
    remote_id   INTEGER
);
CREATE INDEX IF NOT EXISTS segments_camera_time ON segments (camera_id, start);
CREATE TABLE IF NOT EXISTS coverage_gaps (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL,
    cause       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS coverage_gaps_camera_time ON coverage_gaps (camera_id, start);
CREATE TABLE IF NOT EXISTS legal_holds (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL NOT NULL,
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Segment:
    """One recorded MP4 file: here (``node`` None), or on node ``node`` as its segment
    ``remote_id`` (``path`` is then a name, see the module's docstring)."""

    id: int
    camera_id: str
    start: float
    end: float
    path: str
    bytes: int
    node: str | None = None
    remote_id: int | None = None


@dataclass(frozen=True, slots=True)
class CoverageGap:
    """A blind interval of one camera; ``end`` is None while it lasts."""

    id: int
    camera_id: str
    start: float
    end: float | None
    cause: str


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A time range of a camera that retention must keep, who placed it, why and when."""

    id: int
    camera_id: str
    start: float
    end: float
    reason: str
    created_by: str
    created_at: float

    def facts(self) -> audit.Detail:
        """The hold as audit-row facts (whole seconds)."""
        return {
            "hold": self.id,
            "from": int(self.start),
            "to": int(self.end),
            "reason": self.reason,
            "placed_by": self.created_by,
        }


_HOLD_COLUMNS = "id, camera_id, start, end, reason, created_by, created_at"
STATION_HOLDS_BY = "station"
"""``created_by`` of a node's copy of the station's holds (:func:`copy_station_holds`)."""


@dataclass(frozen=True, slots=True)
class HeldRange:
    """What a node needs of a hold placed at the station: its id there and the range."""

    id: int
    camera_id: str
    start: float
    end: float


_SEGMENT_COLUMNS = "id, camera_id, start, end, path, bytes, node, remote_id"


def add_missing_columns(db: sqlite3.Connection) -> None:
    """Give a ``segments`` table made before the nodes' footage its ``node`` and ``remote_id``
    (migration 6)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(segments)")}
    for column, kind in (("node", "TEXT"), ("remote_id", "INTEGER")):
        if column not in columns:
            db.execute(f"ALTER TABLE segments ADD COLUMN {column} {kind}")


def node_segment_path(node: str, remote_id: int) -> str:
    """The ``path`` of the station's row for node ``node``'s segment ``remote_id``: unique,
    and no file."""
    return f"node:{node}/{remote_id}"


def add_segment(
    store: Store, camera_id: str, *, start: float, end: float, path: str, size: int
) -> int:
    """Index a finished segment file."""
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO segments (camera_id, start, end, path, bytes) VALUES (?,?,?,?,?)",
            (camera_id, start, end, path, size),
        )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def add_node_segment(
    store: Store,
    camera_id: str,
    *,
    node: str,
    remote_id: int,
    start: float,
    end: float,
    size: int,
) -> bool:
    """Index at the station a segment that node ``node`` recorded (its id there:
    ``remote_id``); False when it is indexed already (a replayed event adds nothing). A row
    of that id that says otherwise is replaced: the node's store was made anew and the id
    now names this segment (the old one can no longer be had from the node)."""
    row = (camera_id, start, end, node_segment_path(node, remote_id), size, node, remote_id)
    with store.transaction() as db:
        known = db.execute(
            "SELECT camera_id, start, end, path, bytes, node, remote_id FROM segments"
            " WHERE path = ?",
            (row[3],),
        ).fetchone()
        if known is not None and tuple(known) == row:
            return False
        db.execute(
            "INSERT INTO segments (camera_id, start, end, path, bytes, node, remote_id)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET camera_id ="
            " excluded.camera_id, start = excluded.start, end = excluded.end,"
            " bytes = excluded.bytes",
            row,
        )
    return True


def forget_node_segment(store: Store, node: str, remote_id: int) -> bool:
    """Drop the station's index row of node ``node``'s segment ``remote_id`` (the node
    deleted it); False when there was none."""
    with store.transaction() as db:
        cursor = db.execute(
            "DELETE FROM segments WHERE path = ?", (node_segment_path(node, remote_id),)
        )
    return cursor.rowcount == 1


def segments(
    store: Store, camera_id: str | None = None, start: float = 0.0, end: float = 1e12
) -> list[Segment]:
    """Segments overlapping [start, end], oldest first; all cameras when ``camera_id`` is None."""
    rows = store.read(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments "
        "WHERE end >= ? AND start <= ? AND (? IS NULL OR camera_id = ?) ORDER BY start",
        (start, end, camera_id, camera_id),
    )
    return [Segment(*row) for row in rows]


def segment(store: Store, segment_id: int) -> Segment | None:
    """The segment ``segment_id``, or None if there is no such segment."""
    rows = store.read(f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE id = ?", (segment_id,))
    return Segment(*rows[0]) if rows else None


def last_segment_end(store: Store, camera_id: str) -> float | None:
    """Where the camera's recording stops: the end of its newest segment, if any."""
    rows = store.read("SELECT MAX(end) FROM segments WHERE camera_id = ?", (camera_id,))
    return float(rows[0][0]) if rows[0][0] is not None else None


def delete_segment(store: Store, segment_id: int) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM segments WHERE id = ?", (segment_id,))


def retention_candidates(store: Store, older_than: float | None, limit: int = 100) -> list[Segment]:
    """Oldest segments first (those ending before ``older_than`` when given) that are
    neither on legal hold nor overlapping a live alert of that camera still open. Only this
    machine's own files: a node's segment (``node`` set) is its node's to delete."""
    rows = store.read(
        "SELECT s.id, s.camera_id, s.start, s.end, s.path, s.bytes FROM segments s "
        "WHERE s.node IS NULL AND (? IS NULL OR s.end < ?) "
        "AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.camera_id = s.camera_id "
        "  AND h.start <= s.end AND h.end >= s.start) "
        "AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.camera_id = s.camera_id "
        "  AND a.ended_at IS NULL AND a.job_id IS NULL AND a.started_at <= s.end + 60) "
        "ORDER BY s.start LIMIT ?",
        (older_than, older_than, limit),
    )
    return [Segment(*row) for row in rows]


def on_hold(store: Store, camera_id: str, start: float, end: float) -> bool:
    """Whether any legal hold of the camera overlaps [start, end]."""
    rows = store.read(
        "SELECT 1 FROM legal_holds WHERE camera_id = ? AND start <= ? AND end >= ? LIMIT 1",
        (camera_id, end, start),
    )
    return bool(rows)


def recorded_bytes(store: Store) -> int:
    """The bytes of the segment files on this machine's disk (not those kept by nodes)."""
    return int(store.read("SELECT COALESCE(SUM(bytes), 0) FROM segments WHERE node IS NULL")[0][0])


def add_legal_hold(
    store: Store,
    camera_id: str,
    *,
    start: float,
    end: float,
    reason: str,
    by: str,
    at: float,
    address: str = "",
) -> int:
    """Place a hold and its audit row (``hold.place``) in one transaction; returns its id."""
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO legal_holds (camera_id, start, end, reason, created_by, created_at) "
            "VALUES (?,?,?,?,?,?)",
            (camera_id, start, end, reason, by, at),
        )
        assert cursor.lastrowid is not None
        hold = LegalHold(cursor.lastrowid, camera_id, start, end, reason, by, at)
        audit.append(
            db, Action.HOLD_PLACE, by, target=camera_id, detail=hold.facts(), address=address
        )
    return hold.id


def legal_holds(store: Store) -> list[LegalHold]:
    """Every hold in force, newest first."""
    rows = store.read(f"SELECT {_HOLD_COLUMNS} FROM legal_holds ORDER BY id DESC")
    return [LegalHold(*row) for row in rows]


def held_ranges(store: Store) -> list[HeldRange]:
    """The ranges of every hold in force, newest first (what the station sends its nodes)."""
    rows = store.read("SELECT id, camera_id, start, end FROM legal_holds ORDER BY id DESC")
    return [HeldRange(int(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]


def copy_station_holds(store: Store, holds: list[HeldRange]) -> None:
    """Make a node's copy of the station's holds exactly ``holds``, in one transaction: the
    node's retention keeps what they cover. The station audited them; the copy is not."""
    with store.transaction() as db:
        db.execute("DELETE FROM legal_holds WHERE created_by = ?", (STATION_HOLDS_BY,))
        db.executemany(
            "INSERT INTO legal_holds (camera_id, start, end, reason, created_by, created_at)"
            " VALUES (?,?,?,?,?,strftime('%s','now'))",
            [
                (hold.camera_id, hold.start, hold.end, f"station hold {hold.id}", STATION_HOLDS_BY)
                for hold in holds
            ],
        )


def legal_hold(store: Store, hold_id: int) -> LegalHold | None:
    rows = store.read(f"SELECT {_HOLD_COLUMNS} FROM legal_holds WHERE id = ?", (hold_id,))
    return LegalHold(*rows[0]) if rows else None


def lift_legal_hold(
    store: Store, hold_id: int, *, by: str, reason: str, address: str = ""
) -> LegalHold | None:
    """Delete a hold and write its audit row (``hold.lift``, with the hold's facts and why
    it was lifted) in one transaction; None if there is no such hold."""
    with store.transaction() as db:
        row = db.execute(
            f"SELECT {_HOLD_COLUMNS} FROM legal_holds WHERE id = ?", (hold_id,)
        ).fetchone()
        if row is None:
            return None
        hold = LegalHold(*row)
        db.execute("DELETE FROM legal_holds WHERE id = ?", (hold_id,))
        detail = hold.facts() | {"lift_reason": reason}
        audit.append(
            db, Action.HOLD_LIFT, by, target=hold.camera_id, detail=detail, address=address
        )
    return hold


def open_gap(store: Store, camera_id: str, start: float, cause: str) -> int:
    """Start a blind interval (closing none: one camera has at most one open gap)."""
    with store.transaction() as db:
        open_row = db.execute(
            "SELECT id FROM coverage_gaps WHERE camera_id = ? AND end IS NULL", (camera_id,)
        ).fetchone()
        if open_row is not None:
            return int(open_row[0])
        cursor = db.execute(
            "INSERT INTO coverage_gaps (camera_id, start, cause) VALUES (?,?,?)",
            (camera_id, start, cause),
        )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def close_gap(store: Store, camera_id: str, end: float) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE coverage_gaps SET end = ? WHERE camera_id = ? AND end IS NULL",
            (end, camera_id),
        )


def coverage_gaps(store: Store, camera_id: str, start: float = 0.0) -> list[CoverageGap]:
    rows = store.read(
        "SELECT id, camera_id, start, end, cause FROM coverage_gaps "
        "WHERE camera_id = ? AND (end IS NULL OR end >= ?) ORDER BY start",
        (camera_id, start),
    )
    return [CoverageGap(*row) for row in rows]
