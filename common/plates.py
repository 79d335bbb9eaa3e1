"""Licence-plate reads and the plate watch list, in the store.

A *plate read* is one vehicle track's plate, as the detection core's plate reader voted it
(:mod:`detect.plates`): the normalised text (``75-H1 357.92``), its *key* (the letters and
digits only, ``75H135792``, which searches match), the vote's confidence, the moment of the
best crop and the plate's picture. One row per track: as more crops of the track are read,
the row is updated (:func:`save_read`). A re-analysis job's reads carry its ``job_id``: they
are the job's findings, shown with them and deleted with the job, never in the live search.

The *watch list* holds plates to raise an alert on, with wildcards (``29B1*``, ``75-H1?``);
admins and operators add and remove entries, each change audited in the same transaction.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common import audit
from common.audit import Action

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS plate_reads (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    track_id    INTEGER NOT NULL,
    class_name  TEXT NOT NULL,
    plate       TEXT NOT NULL,
    plate_key   TEXT NOT NULL,
    confidence  REAL NOT NULL,
    agreeing    INTEGER NOT NULL,
    crops       INTEGER NOT NULL,
    first_at    REAL NOT NULL,
    at          REAL NOT NULL,
    source      TEXT NOT NULL,
    crop        BLOB NOT NULL,
    watch_entry TEXT,
    alert_id    INTEGER,
    job_id      INTEGER
);
CREATE INDEX IF NOT EXISTS plate_reads_job ON plate_reads (job_id, track_id);
CREATE INDEX IF NOT EXISTS plate_reads_camera_time ON plate_reads (camera_id, at);
CREATE INDEX IF NOT EXISTS plate_reads_time ON plate_reads (at);
CREATE INDEX IF NOT EXISTS plate_reads_track ON plate_reads (camera_id, track_id);
CREATE INDEX IF NOT EXISTS plate_reads_alert ON plate_reads (alert_id) WHERE alert_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS plate_watch (
    id          INTEGER PRIMARY KEY,
    pattern     TEXT NOT NULL UNIQUE,
    note        TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    added_at    REAL NOT NULL
);
"""

WATCH_PATTERN = re.compile(r"^[0-9A-Za-z.\- *?]{2,20}$")
"""What a watch-list entry may hold: plate characters, separators and the wildcards."""


def plate_key(text: str) -> str:
    """The letters and digits of a plate or a search, upper case: ``75-h1 357.92`` ->
    ``75H135792``. Searches and the watch list ignore separators."""
    return "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())


@dataclass(frozen=True, slots=True)
class NewPlateRead:
    """A track's plate as the reader voted it; ``crop_jpeg`` is the plate's picture."""

    camera_id: str
    track_id: int
    class_name: str
    plate: str
    confidence: float
    agreeing: int
    crops: int
    first_at: float
    at: float
    source: str
    """Which stream the picture came from: ``detect`` or ``record``."""
    crop_jpeg: bytes
    job_id: int | None = None
    """The re-analysis job that read it; None for live analysis."""


@dataclass(frozen=True, slots=True)
class PlateReadRecord:
    """A plate read as stored (without its picture)."""

    id: int
    camera_id: str
    track_id: int
    class_name: str
    plate: str
    confidence: float
    agreeing: int
    crops: int
    first_at: float
    at: float
    source: str
    watch_entry: str | None
    alert_id: int | None


_READ_COLUMNS = (
    "id, camera_id, track_id, class_name, plate, confidence, agreeing, crops, first_at, at,"
    " source, watch_entry, alert_id"
)


def save_read(store: Store, read: NewPlateRead, read_id: int | None = None) -> int:
    """Store a track's plate, or update the row ``read_id`` (the same track, read again);
    returns the row's id."""
    values = (
        read.class_name,
        read.plate,
        plate_key(read.plate),
        read.confidence,
        read.agreeing,
        read.crops,
        read.at,
        read.source,
        read.crop_jpeg,
    )
    with store.transaction() as db:
        if read_id is not None:
            cursor = db.execute(
                "UPDATE plate_reads SET class_name = ?, plate = ?, plate_key = ?, confidence = ?,"
                " agreeing = ?, crops = ?, at = ?, source = ?, crop = ? WHERE id = ?",
                (*values, read_id),
            )
            if cursor.rowcount:
                return read_id
        cursor = db.execute(
            "INSERT INTO plate_reads (class_name, plate, plate_key, confidence, agreeing, crops,"
            " at, source, crop, camera_id, track_id, first_at, job_id)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (*values, read.camera_id, read.track_id, read.first_at, read.job_id),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def mark_watch_hit(store: Store, read_id: int, entry: str, alert_id: int) -> None:
    """Note that the read ``read_id`` matched the watch-list ``entry`` and raised ``alert_id``."""
    with store.transaction() as db:
        db.execute(
            "UPDATE plate_reads SET watch_entry = ?, alert_id = ? WHERE id = ?",
            (entry, alert_id, read_id),
        )


@dataclass(frozen=True, slots=True)
class PlateQuery:
    """A search of the plate reads: ``text`` matches anywhere in the key, with ``*`` and
    ``?`` as wildcards (``75H1``, ``29B1*92``); ``cameras`` None means every camera."""

    text: str = ""
    cameras: tuple[str, ...] | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    before_id: int | None = None
    job_id: int | None = None
    """A re-analysis job's reads instead of the live ones."""


def _like(text: str) -> str:
    """A search text as a LIKE pattern over plate keys (``%`` and ``_`` in it mean nothing)."""
    key = "".join(ch for ch in text.upper() if ch in "*?" or (ch.isascii() and ch.isalnum()))
    return "%" + key.replace("*", "%").replace("?", "_") + "%"


def search_reads(store: Store, query: PlateQuery) -> list[PlateReadRecord]:
    """The reads that match ``query``, newest first."""
    clauses: list[str] = ["job_id IS NULL" if query.job_id is None else "job_id = ?"]
    params: list[object] = [] if query.job_id is None else [query.job_id]
    if plate_key(query.text.replace("*", "").replace("?", "")):
        clauses.append("plate_key LIKE ?")
        params.append(_like(query.text))
    if query.cameras is not None:
        if not query.cameras:
            return []
        clauses.append(f"camera_id IN ({','.join('?' * len(query.cameras))})")
        params.extend(query.cameras)
    if query.since is not None:
        clauses.append("at >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("at <= ?")
        params.append(query.until)
    if query.before_id is not None:
        # The page after the row ``before_id`` in the (at, id) order: rows are updated as
        # their track is read again, so ids are not in the order of ``at``.
        cursor = "(SELECT at FROM plate_reads WHERE id = ?)"
        clauses.append(f"(at < {cursor} OR (at = {cursor} AND id < ?))")
        params.extend((query.before_id, query.before_id, query.before_id))
    where = f"WHERE {' AND '.join(clauses)}"
    rows = store.read(
        f"SELECT {_READ_COLUMNS} FROM plate_reads {where} ORDER BY at DESC, id DESC LIMIT ?",
        (*params, query.limit),
    )
    return [PlateReadRecord(*row) for row in rows]


def plate_read(store: Store, read_id: int) -> PlateReadRecord | None:
    rows = store.read(f"SELECT {_READ_COLUMNS} FROM plate_reads WHERE id = ?", (read_id,))
    return PlateReadRecord(*rows[0]) if rows else None


def plate_crop(store: Store, read_id: int) -> bytes | None:
    """The JPEG of a read's plate."""
    rows = store.read("SELECT crop FROM plate_reads WHERE id = ?", (read_id,))
    return bytes(rows[0][0]) if rows else None


def plates_of_tracks(
    store: Store, tracks: list[tuple[str, int, float]], within_s: float = 600.0
) -> dict[tuple[str, int, float], str]:
    """The plate read of each (camera, track, moment), for alerts about vehicle tracks.

    Track ids start again when the detection core restarts, so a read belongs to the moment
    only when it was made within ``within_s`` of it."""
    if not tracks:
        return {}
    pairs = sorted({(camera, track) for camera, track, _ in tracks})
    marks = " OR ".join("(camera_id = ? AND track_id = ?)" for _ in pairs)
    rows = store.read(
        "SELECT camera_id, track_id, plate, first_at, at FROM plate_reads"
        f" WHERE job_id IS NULL AND ({marks}) ORDER BY confidence DESC",
        tuple(value for pair in pairs for value in pair),
    )
    found: dict[tuple[str, int, float], str] = {}
    for camera, track, moment in tracks:
        for row in rows:
            near = row["first_at"] - within_s <= moment <= row["at"] + within_s
            if row["camera_id"] == camera and row["track_id"] == track and near:
                found[(camera, track, moment)] = str(row["plate"])
                break
    return found


def plates_of_alerts(store: Store, alert_ids: list[int]) -> dict[int, str]:
    """The plate of each live watch-list alert among ``alert_ids`` (the read that raised it:
    :func:`mark_watch_hit`); alerts that no read raised are left out. A job's read names one
    of its findings (:func:`common.jobs.job_plates` is theirs), so only live reads count."""
    if not alert_ids:
        return {}
    marks = ",".join("?" * len(alert_ids))
    rows = store.read(
        f"SELECT alert_id, plate FROM plate_reads WHERE alert_id IN ({marks}) AND job_id IS NULL",
        tuple(alert_ids),
    )
    return {int(row["alert_id"]): str(row["plate"]) for row in rows}


def job_plates(store: Store, job_id: int) -> dict[int, str]:
    """The plates a re-analysis job read, by track."""
    rows = store.read(
        "SELECT track_id, plate FROM plate_reads WHERE job_id = ? ORDER BY confidence", (job_id,)
    )
    return {int(row[0]): str(row[1]) for row in rows}


def delete_job_reads(db: sqlite3.Connection, job_id: int) -> None:
    """Inside a job's deletion: its plate reads go with it."""
    db.execute("DELETE FROM plate_reads WHERE job_id = ?", (job_id,))


def delete_reads_before(store: Store, camera_id: str | None, before: float) -> int:
    """Forget the live reads (of one camera, or all) made before ``before`` (retention);
    returns how many."""
    with store.transaction() as db:
        if camera_id is None:
            cursor = db.execute(
                "DELETE FROM plate_reads WHERE at < ? AND job_id IS NULL", (before,)
            )
        else:
            cursor = db.execute(
                "DELETE FROM plate_reads WHERE camera_id = ? AND at < ? AND job_id IS NULL",
                (camera_id, before),
            )
        return cursor.rowcount


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One plate (or pattern) on the watch list."""

    id: int
    pattern: str
    note: str
    added_by: str
    added_at: float

    def facts(self) -> audit.Detail:
        return {"pattern": self.pattern, "note": self.note}


_WATCH_COLUMNS = "id, pattern, note, added_by, added_at"


class WatchPatternError(ValueError):
    """A watch-list entry that is not a plate pattern. ``problem`` names what is wrong
    (``too_long``, ``characters``: then ``characters`` lists them, ``too_short``) for a page
    to say in its own language; the message says it in English."""

    def __init__(self, pattern: str, problem: str, message: str, characters: str = "") -> None:
        super().__init__(message)
        self.pattern = pattern
        self.problem = problem
        self.characters = characters


WATCH_MAX_LENGTH = 20
_PLATE_CHARACTER = re.compile(r"[0-9A-Z.\- *?]")


def normal_pattern(pattern: str) -> str:
    """An entry as kept: upper case, trimmed; refused when it is not plate characters or
    holds fewer than two letters or digits."""
    text = " ".join(pattern.upper().split())
    strange = "".join(sorted({ch for ch in text if not _PLATE_CHARACTER.fullmatch(ch)}))
    if len(text) > WATCH_MAX_LENGTH:
        message = f"{pattern!r} is longer than {WATCH_MAX_LENGTH} characters"
        raise WatchPatternError(pattern, "too_long", message)
    if strange:
        message = (
            f"{pattern!r} holds {strange!r}: a plate pattern has letters, digits, '-', '.',"
            " spaces and the wildcards * and ?"
        )
        raise WatchPatternError(pattern, "characters", message, strange)
    if len(plate_key(text)) < 2 or not WATCH_PATTERN.match(text):
        message = f"{pattern!r} has fewer than two letters or digits"
        raise WatchPatternError(pattern, "too_short", message)
    return text


def _same_plates(pattern: str) -> str:
    """What an entry matches: ``29-B1*`` and ``29B1 *`` are the same entry (separators are
    ignored when plates are matched)."""
    return "".join(ch for ch in pattern if ch in "*?" or (ch.isascii() and ch.isalnum()))


def watch_entries(store: Store) -> list[WatchEntry]:
    """The watch list, newest first."""
    rows = store.read(f"SELECT {_WATCH_COLUMNS} FROM plate_watch ORDER BY id DESC")
    return [WatchEntry(*row) for row in rows]


def watch_version(store: Store) -> tuple[int, int]:
    """Changes whenever an entry is added or removed (cheap to poll)."""
    row = store.read("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM plate_watch")[0]
    return int(row[0]), int(row[1])


def add_watch(
    store: Store, pattern: str, *, note: str, by: str, at: float, address: str = ""
) -> WatchEntry | None:
    """Add an entry and its audit row in one transaction; None when it is already listed
    (written the same way, or with other separators: ``29-B1*`` is ``29B1*``).
    Raises :class:`WatchPatternError` for a pattern that is not a plate's."""
    text = normal_pattern(pattern)
    with store.transaction() as db:
        listed = db.execute("SELECT pattern FROM plate_watch").fetchall()
        if any(_same_plates(row[0]) == _same_plates(text) for row in listed):
            return None
        cursor = db.execute(
            "INSERT OR IGNORE INTO plate_watch (pattern, note, added_by, added_at)"
            " VALUES (?,?,?,?)",
            (text, note, by, at),
        )
        if not cursor.rowcount or cursor.lastrowid is None:
            return None
        entry = WatchEntry(cursor.lastrowid, text, note, by, at)
        audit.append(
            db, Action.PLATE_WATCH_ADD, by, target=text, detail=entry.facts(), address=address
        )
    return entry


def remove_watch(store: Store, entry_id: int, *, by: str, address: str = "") -> WatchEntry | None:
    """Remove an entry and write its audit row in one transaction; None if there is none."""
    with store.transaction() as db:
        row = db.execute(
            f"SELECT {_WATCH_COLUMNS} FROM plate_watch WHERE id = ?", (entry_id,)
        ).fetchone()
        if row is None:
            return None
        entry = WatchEntry(*row)
        db.execute("DELETE FROM plate_watch WHERE id = ?", (entry_id,))
        audit.append(
            db,
            Action.PLATE_WATCH_REMOVE,
            by,
            target=entry.pattern,
            detail=entry.facts(),
            address=address,
        )
    return entry
