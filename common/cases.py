"""Cases: what an investigation gathers, who works on it, and its history.

A *case* ("vụ việc") collects the live alerts, the re-analysis findings and the clips (a
camera and a time window) that belong to one incident, the notes the operators write, and
who has it now (``assigned_to``): one shift hands it over to the next with a note. A case is
``open`` until someone closes it; a closed case takes no change but a reopening (and can
still be exported, :mod:`common.case_exports`).

The case's history is the audit log, not a table of its own: every change here writes its
audit row (target ``case:ID``) in the transaction that makes it, so the change and its row
are committed together, and :func:`trail` reads the case's rows back, with their chain
hashes, for the page and for the exported package. One log means one place to verify
(``matthan audit verify``) and no second history that could disagree with the first.

Each alert, finding and clip keeps the camera it shows: which cameras a case holds decides
who may see it (the dashboard shows a case only to a user who may see every one of them).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from common import audit
from common.audit import Action

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT 'open',
    created_by  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    assigned_to TEXT,
    updated_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS case_alerts (
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    alert_id    INTEGER NOT NULL,
    camera_id   TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    added_at    REAL NOT NULL,
    PRIMARY KEY (case_id, alert_id)
);
CREATE TABLE IF NOT EXISTS case_findings (
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    job_id      INTEGER NOT NULL,
    finding_id  INTEGER NOT NULL,
    camera_id   TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    added_at    REAL NOT NULL,
    PRIMARY KEY (case_id, finding_id)
);
CREATE TABLE IF NOT EXISTS case_clips (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    camera_id   TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL NOT NULL,
    added_by    TEXT NOT NULL,
    added_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS case_clips_case ON case_clips (case_id, id);
CREATE TABLE IF NOT EXISTS case_notes (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    author      TEXT NOT NULL,
    at          REAL NOT NULL,
    text        TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'note'
);
CREATE INDEX IF NOT EXISTS case_notes_case ON case_notes (case_id, id);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, id);
"""
"""The last index serves :func:`trail` (a case's rows of the audit log, by target); the audit
log itself is created before this schema runs (:mod:`common.accounts`)."""


class CaseState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class NoteKind(StrEnum):
    """A note written on its own, or the one that goes with a hand-over or a closing."""

    NOTE = "note"
    HANDOVER = "handover"
    CLOSE = "close"
    REOPEN = "reopen"


class CaseNotFoundError(LookupError):
    """No case (or no such item in the case) by that id."""


class CaseClosedError(ValueError):
    """The case is closed: reopen it before changing it."""


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    title: str
    description: str
    state: CaseState
    created_by: str
    created_at: float
    assigned_to: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class CaseAlert:
    """A live alert in a case (the alert itself is in the alerts table)."""

    alert_id: int
    camera_id: str
    added_by: str
    added_at: float


@dataclass(frozen=True, slots=True)
class CaseFinding:
    """A re-analysis finding in a case: the job and the finding (:mod:`common.jobs`)."""

    job_id: int
    finding_id: int
    camera_id: str
    added_by: str
    added_at: float


@dataclass(frozen=True, slots=True)
class CaseClip:
    """A camera's recorded window that the case's export cuts into a clip."""

    id: int
    camera_id: str
    start: float
    end: float
    added_by: str
    added_at: float


@dataclass(frozen=True, slots=True)
class CaseNote:
    id: int
    author: str
    at: float
    text: str
    kind: NoteKind


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """One audit row about the case, with its place in the log's hash chain."""

    id: int
    at: float
    actor: str
    action: str
    detail: audit.Detail
    address: str
    prev_hash: str
    hash: str


_CASE_COLUMNS = "id, title, description, state, created_by, created_at, assigned_to, updated_at"


def target(case_id: int) -> str:
    """The audit rows' ``target`` for a case: ``case:ID``."""
    return f"case:{case_id}"


def _case(row: sqlite3.Row) -> Case:
    return Case(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        state=CaseState(row["state"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        assigned_to=row["assigned_to"],
        updated_at=row["updated_at"],
    )


def _changeable(db: sqlite3.Connection, case_id: int) -> Case:
    """The case, inside a write transaction, if it exists and is open."""
    row = db.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,)).fetchone()
    if row is None:
        raise CaseNotFoundError(f"no case {case_id}")
    found = _case(row)
    if found.state is CaseState.CLOSED:
        raise CaseClosedError(f"case {case_id} is closed")
    return found


def _changed(
    db: sqlite3.Connection,
    case_id: int,
    action: Action,
    *,
    by: str,
    detail: audit.Detail,
    address: str,
) -> None:
    """Mark the case changed now and write the change's audit row."""
    db.execute("UPDATE cases SET updated_at = ? WHERE id = ?", (time.time(), case_id))
    audit.append(db, action, by, target=target(case_id), detail=detail, address=address)


def create_case(store: Store, title: str, description: str, *, by: str, address: str = "") -> int:
    """Open a new case, assigned to the one who opened it; returns its id."""
    now = time.time()
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO cases (title, description, created_by, created_at, assigned_to,"
            " updated_at) VALUES (?,?,?,?,?,?)",
            (title, description, by, now, by, now),
        )
        assert cursor.lastrowid is not None
        case_id = cursor.lastrowid
        detail: audit.Detail = {"case": case_id, "title": title}
        audit.append(
            db, Action.CASE_CREATE, by, target=target(case_id), detail=detail, address=address
        )
    return case_id


def case(store: Store, case_id: int) -> Case | None:
    rows = store.read(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,))
    return _case(rows[0]) if rows else None


def cases(store: Store, state: CaseState | None = None, limit: int = 500) -> list[Case]:
    """The newest-changed first; only those in ``state`` when given."""
    rows = store.read(
        f"SELECT {_CASE_COLUMNS} FROM cases WHERE (? IS NULL OR state = ?)"
        " ORDER BY updated_at DESC, id DESC LIMIT ?",
        (state, state, limit),
    )
    return [_case(row) for row in rows]


def cameras_of(store: Store, case_ids: list[int]) -> dict[int, set[str]]:
    """The cameras each case holds (through its alerts, findings and clips)."""
    if not case_ids:
        return {}
    marks = ",".join("?" * len(case_ids))
    rows = store.read(
        f"SELECT case_id, camera_id FROM case_alerts WHERE case_id IN ({marks})"
        f" UNION SELECT case_id, camera_id FROM case_findings WHERE case_id IN ({marks})"
        f" UNION SELECT case_id, camera_id FROM case_clips WHERE case_id IN ({marks})",
        tuple(case_ids) * 3,
    )
    found: dict[int, set[str]] = {case_id: set() for case_id in case_ids}
    for row in rows:
        found[row["case_id"]].add(row["camera_id"])
    return found


def edit_case(
    store: Store,
    case_id: int,
    *,
    title: str | None = None,
    description: str | None = None,
    by: str,
    address: str = "",
) -> Case:
    """Change an open case's title or description (``case.edit``, with the new values)."""
    with store.transaction() as db:
        found = _changeable(db, case_id)
        title = found.title if title is None else title
        description = found.description if description is None else description
        db.execute(
            "UPDATE cases SET title = ?, description = ? WHERE id = ?",
            (title, description, case_id),
        )
        detail: audit.Detail = {"case": case_id, "title": title, "description": description}
        _changed(db, case_id, Action.CASE_EDIT, by=by, detail=detail, address=address)
    return _required(store, case_id)


def set_state(
    store: Store, case_id: int, state: CaseState, *, note: str, by: str, address: str = ""
) -> Case:
    """Close or reopen a case, with a note saying why (kept as the case's note, if any).
    Setting the state it has already changes nothing and writes no row."""
    with store.transaction() as db:
        row = db.execute("SELECT state FROM cases WHERE id = ?", (case_id,)).fetchone()
        if row is None:
            raise CaseNotFoundError(f"no case {case_id}")
        if row["state"] != state:
            db.execute("UPDATE cases SET state = ? WHERE id = ?", (state, case_id))
            closing = state is CaseState.CLOSED
            kind = NoteKind.CLOSE if closing else NoteKind.REOPEN
            if note:
                _insert_note(db, case_id, by, note, kind)
            action = Action.CASE_CLOSE if closing else Action.CASE_REOPEN
            _changed(
                db, case_id, action, by=by, detail={"case": case_id, "note": note}, address=address
            )
    return _required(store, case_id)


def _required(store: Store, case_id: int) -> Case:
    found = case(store, case_id)
    if found is None:
        raise CaseNotFoundError(f"no case {case_id}")
    return found


def add_alert(
    store: Store, case_id: int, alert_id: int, camera_id: str, *, by: str, address: str = ""
) -> bool:
    """Put a live alert in the case; False (and no row) if it is there already."""
    with store.transaction() as db:
        _changeable(db, case_id)
        cursor = db.execute(
            "INSERT OR IGNORE INTO case_alerts (case_id, alert_id, camera_id, added_by, added_at)"
            " VALUES (?,?,?,?,?)",
            (case_id, alert_id, camera_id, by, time.time()),
        )
        if cursor.rowcount:
            detail: audit.Detail = {"case": case_id, "alert": alert_id, "camera": camera_id}
            _changed(db, case_id, Action.CASE_ALERT_ADD, by=by, detail=detail, address=address)
    return bool(cursor.rowcount)


def remove_alert(store: Store, case_id: int, alert_id: int, *, by: str, address: str = "") -> None:
    """Take an alert out of the case (the alert itself stays)."""
    with store.transaction() as db:
        _changeable(db, case_id)
        row = db.execute(
            "DELETE FROM case_alerts WHERE case_id = ? AND alert_id = ? RETURNING camera_id",
            (case_id, alert_id),
        ).fetchone()
        if row is None:
            raise CaseNotFoundError(f"alert {alert_id} is not in case {case_id}")
        detail: audit.Detail = {"case": case_id, "alert": alert_id, "camera": row["camera_id"]}
        _changed(db, case_id, Action.CASE_ALERT_REMOVE, by=by, detail=detail, address=address)


def add_finding(
    store: Store,
    case_id: int,
    job_id: int,
    finding_id: int,
    camera_id: str,
    *,
    by: str,
    address: str = "",
) -> bool:
    """Put a re-analysis finding in the case; False (and no row) if it is there already."""
    with store.transaction() as db:
        _changeable(db, case_id)
        cursor = db.execute(
            "INSERT OR IGNORE INTO case_findings (case_id, job_id, finding_id, camera_id,"
            " added_by, added_at) VALUES (?,?,?,?,?,?)",
            (case_id, job_id, finding_id, camera_id, by, time.time()),
        )
        if cursor.rowcount:
            detail: audit.Detail = {
                "case": case_id,
                "job": job_id,
                "finding": finding_id,
                "camera": camera_id,
            }
            _changed(db, case_id, Action.CASE_FINDING_ADD, by=by, detail=detail, address=address)
    return bool(cursor.rowcount)


def remove_finding(
    store: Store, case_id: int, finding_id: int, *, by: str, address: str = ""
) -> None:
    with store.transaction() as db:
        _changeable(db, case_id)
        row = db.execute(
            "DELETE FROM case_findings WHERE case_id = ? AND finding_id = ?"
            " RETURNING job_id, camera_id",
            (case_id, finding_id),
        ).fetchone()
        if row is None:
            raise CaseNotFoundError(f"finding {finding_id} is not in case {case_id}")
        detail: audit.Detail = {
            "case": case_id,
            "job": row["job_id"],
            "finding": finding_id,
            "camera": row["camera_id"],
        }
        _changed(db, case_id, Action.CASE_FINDING_REMOVE, by=by, detail=detail, address=address)


def _clip_facts(case_id: int, clip: CaseClip) -> audit.Detail:
    return {
        "case": case_id,
        "clip": clip.id,
        "camera": clip.camera_id,
        "from": int(clip.start),
        "to": int(clip.end),
    }


def add_clip(
    store: Store,
    case_id: int,
    camera_id: str,
    start: float,
    end: float,
    *,
    by: str,
    address: str = "",
) -> CaseClip:
    """Add a camera's window to the case (the caller checks its length and the camera)."""
    now = time.time()
    with store.transaction() as db:
        _changeable(db, case_id)
        cursor = db.execute(
            "INSERT INTO case_clips (case_id, camera_id, start, end, added_by, added_at)"
            " VALUES (?,?,?,?,?,?)",
            (case_id, camera_id, start, end, by, now),
        )
        assert cursor.lastrowid is not None
        clip = CaseClip(cursor.lastrowid, camera_id, start, end, by, now)
        _changed(
            db,
            case_id,
            Action.CASE_CLIP_ADD,
            by=by,
            detail=_clip_facts(case_id, clip),
            address=address,
        )
    return clip


def remove_clip(store: Store, case_id: int, clip_id: int, *, by: str, address: str = "") -> None:
    with store.transaction() as db:
        _changeable(db, case_id)
        row = db.execute(
            "DELETE FROM case_clips WHERE case_id = ? AND id = ?"
            " RETURNING id, camera_id, start, end, added_by, added_at",
            (case_id, clip_id),
        ).fetchone()
        if row is None:
            raise CaseNotFoundError(f"clip {clip_id} is not in case {case_id}")
        clip = CaseClip(*row)
        _changed(
            db,
            case_id,
            Action.CASE_CLIP_REMOVE,
            by=by,
            detail=_clip_facts(case_id, clip),
            address=address,
        )


def _insert_note(
    db: sqlite3.Connection, case_id: int, author: str, text: str, kind: NoteKind
) -> int:
    cursor = db.execute(
        "INSERT INTO case_notes (case_id, author, at, text, kind) VALUES (?,?,?,?,?)",
        (case_id, author, time.time(), text, kind),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def add_note(store: Store, case_id: int, text: str, *, by: str, address: str = "") -> int:
    """Write a note in an open case (its text is in the audit row too); returns its id."""
    with store.transaction() as db:
        _changeable(db, case_id)
        note_id = _insert_note(db, case_id, by, text, NoteKind.NOTE)
        detail: audit.Detail = {"case": case_id, "note_id": note_id, "note": text}
        _changed(db, case_id, Action.CASE_NOTE, by=by, detail=detail, address=address)
    return note_id


def assign(store: Store, case_id: int, to: str, *, note: str, by: str, address: str = "") -> Case:
    """Give the case to ``to`` (the caller checks that they may take it). From someone else
    it is a hand-over: the note (what is done, what is left) is kept as a hand-over note and
    the audit row says from whom to whom."""
    with store.transaction() as db:
        found = _changeable(db, case_id)
        db.execute("UPDATE cases SET assigned_to = ? WHERE id = ?", (to, case_id))
        if note:
            _insert_note(db, case_id, by, note, NoteKind.HANDOVER)
        detail: audit.Detail = {
            "case": case_id,
            "from": found.assigned_to or "",
            "to": to,
            "note": note,
        }
        _changed(db, case_id, Action.CASE_ASSIGN, by=by, detail=detail, address=address)
    return _required(store, case_id)


def alerts(store: Store, case_id: int) -> list[CaseAlert]:
    rows = store.read(
        "SELECT alert_id, camera_id, added_by, added_at FROM case_alerts WHERE case_id = ?"
        " ORDER BY alert_id",
        (case_id,),
    )
    return [CaseAlert(*row) for row in rows]


def findings(store: Store, case_id: int) -> list[CaseFinding]:
    rows = store.read(
        "SELECT job_id, finding_id, camera_id, added_by, added_at FROM case_findings"
        " WHERE case_id = ? ORDER BY finding_id",
        (case_id,),
    )
    return [CaseFinding(*row) for row in rows]


def clips(store: Store, case_id: int) -> list[CaseClip]:
    rows = store.read(
        "SELECT id, camera_id, start, end, added_by, added_at FROM case_clips"
        " WHERE case_id = ? ORDER BY id",
        (case_id,),
    )
    return [CaseClip(*row) for row in rows]


def notes(store: Store, case_id: int) -> list[CaseNote]:
    """Oldest first, as the case was written."""
    rows = store.read(
        "SELECT id, author, at, text, kind FROM case_notes WHERE case_id = ? ORDER BY id",
        (case_id,),
    )
    return [CaseNote(row[0], row[1], row[2], row[3], NoteKind(row[4])) for row in rows]


def trail(store: Store, case_id: int) -> list[TrailEntry]:
    """The audit rows about the case, oldest first: every change, export and download."""
    rows = store.read(
        "SELECT id, at, actor, action, detail, address, prev_hash, hash FROM audit_log"
        " WHERE target = ? ORDER BY id",
        (target(case_id),),
    )
    return [
        TrailEntry(
            id=row["id"],
            at=row["at"],
            actor=row["actor"],
            action=row["action"],
            detail=json.loads(row["detail"]),
            address=row["address"],
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )
        for row in rows
    ]
