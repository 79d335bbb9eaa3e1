"""The audit log: who did what, when and from where; rows are only ever added.

The table has no UPDATE or DELETE path in the code, and SQLite triggers (installed by
:func:`install_guards`) abort any statement that tries, so a rogue or mistaken query
cannot rewrite history either. Writers call :func:`append` inside their own transaction,
so an action and its audit row are committed together or not at all.

``detail`` is a small JSON object of facts (``{"role": "operator", "areas": [...]}``,
``{"note": "..."}``), so the page can show it in the reader's language.

The log is also tamper-evident: each row carries ``prev_hash``, the ``hash`` of the row
before it (:data:`GENESIS` for the first), and its own ``hash``, the SHA-256 of a canonical
encoding of its fields and ``prev_hash`` (:func:`row_hash`). Someone who drops the triggers
and edits, removes or inserts a row breaks the chain there, which
:func:`common.audit_chain.verify_chain` (and ``matthan audit verify``) reports. Every row
goes through :func:`append`, which reads the previous hash inside the caller's write
transaction (``BEGIN IMMEDIATE`` holds the write lock), so rows written by several
processes at once still form one chain. What the chain cannot show is rows cut off at the
end: keep the head hash ``verify`` prints elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id       INTEGER PRIMARY KEY,
    at       REAL NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT '{}',
    address  TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL DEFAULT '',
    hash     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_action_time ON audit_log (action, at);
"""

APPEND_ONLY = ("audit_log", "alert_reviews")
Detail = dict[str, str | int | bool | list[str]]
GENESIS = "0" * 64
"""The ``prev_hash`` of the first row."""
SAME_ACCESS_WINDOW_S = 300.0
"""Repeats of one access (same user, action, target and facts) within this many seconds
make no new row: see :func:`record_once`."""


def guard_statements(table: str) -> tuple[str, ...]:
    """Triggers that abort any UPDATE or DELETE on ``table``.

    They are whole statements with a ``;`` inside their body: :mod:`common.migrations`
    splits its scripts into whole statements, and runs them with the tables at every open.
    """
    return tuple(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for verb in ("UPDATE", "DELETE")
    )


class Action(StrEnum):
    """What an audit row records; the page translates each (``action_login_ok``...)."""

    LOGIN_OK = "login.ok"
    LOGIN_FAILED = "login.failed"
    LOGIN_BLOCKED = "login.blocked"
    LOGOUT = "logout"
    LOGOUT_OTHERS = "logout.others"
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    ALERT_RESOLVE = "alert.resolve"
    LIVE_START = "live.start"
    LIVE_STOP = "live.stop"
    PLAYBACK = "playback"
    EXPORT = "export"
    USER_ADD = "user.add"
    USER_CHANGE = "user.change"
    USER_PASSWORD = "user.password"  # noqa: S105 (an action name)
    CONFIG_CHANGED = "config.changed"
    REANALYSIS = "reanalysis.queue"
    """A re-analysis job was queued, over a recorded range or an uploaded file."""
    REANALYSIS_CANCEL = "reanalysis.cancel"
    REANALYSIS_DELETE = "reanalysis.delete"
    RECORDING_VIEW = "footage.recording"
    """A recorded segment's file was fetched (played or downloaded)."""
    CLIP_VIEW = "footage.clip"
    PICTURE_VIEW = "footage.picture"
    """An alert's snapshot or crop was fetched."""
    EXPORT_DOWNLOAD = "footage.export"
    HOLD_PLACE = "hold.place"
    HOLD_LIFT = "hold.lift"
    CASE_CREATE = "case.create"
    """A case was opened (:mod:`common.cases`: every case row has target ``case:ID``)."""
    CASE_EDIT = "case.edit"
    CASE_CLOSE = "case.close"
    CASE_REOPEN = "case.reopen"
    CASE_ASSIGN = "case.assign"
    """A case was given to someone; from someone else it is a hand-over (``from``, ``to``)."""
    CASE_ALERT_ADD = "case.alert_add"
    CASE_ALERT_REMOVE = "case.alert_remove"
    CASE_FINDING_ADD = "case.finding_add"
    CASE_FINDING_REMOVE = "case.finding_remove"
    CASE_CLIP_ADD = "case.clip_add"
    CASE_CLIP_REMOVE = "case.clip_remove"
    CASE_NOTE = "case.note"
    CASE_EXPORT = "case.export"
    """A case's package was asked for (the clips, pictures, notes and this trail)."""
    PLATE_WATCH_ADD = "plate_watch.add"
    PLATE_WATCH_REMOVE = "plate_watch.remove"
    PUSH_SUBSCRIBE = "push.subscribe"
    """A browser (a phone) was turned on for alert pushes, or its filters replaced."""
    PUSH_CHANGE = "push.change"
    PUSH_UNSUBSCRIBE = "push.unsubscribe"
    PUSH_GONE = "push.gone"
    """The push service said a subscription is gone (404/410): removed by the system."""
    WALL_LAYOUT_SAVE = "wall.layout_save"
    """A user saved a live wall layout of theirs (:mod:`common.wall_layouts`)."""
    WALL_LAYOUT_DELETE = "wall.layout_delete"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the log; ``actor`` is a user name, ``cli`` or ``system``."""

    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: Detail
    address: str


def install_guards(store: Store) -> None:
    """Create the append-only triggers (idempotent)."""
    with store.transaction() as db:
        for table in APPEND_ONLY:
            for statement in guard_statements(table):
                db.execute(statement)


def row_hash(
    *,
    row_id: int,
    at: float,
    actor: str,
    action: str,
    target: str,
    detail: str,
    address: str,
    prev_hash: str,
) -> str:
    """SHA-256 of one row: its fields as stored (``detail`` is the stored JSON text) and the
    previous row's hash, as a compact JSON array (floats as their shortest exact repr)."""
    fields = [row_id, at, actor, action, target, detail, address, prev_hash]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _facts(detail: Detail | None) -> str:
    return json.dumps(detail or {}, ensure_ascii=False)


def append(
    db: sqlite3.Connection,
    action: Action,
    actor: str,
    *,
    target: str = "",
    detail: Detail | None = None,
    address: str = "",
) -> None:
    """Add one row inside the caller's write transaction, chained to the newest row.

    The only way rows are written: every writer (sign-ins, reviews, downloads...) goes
    through here, so the chain has no gaps.
    """
    if not db.in_transaction:
        raise RuntimeError("audit rows are written inside a write transaction (BEGIN IMMEDIATE)")
    last = db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    row_id, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
    at, facts = time.time(), _facts(detail)
    digest = row_hash(
        row_id=row_id,
        at=at,
        actor=actor,
        action=action.value,
        target=target,
        detail=facts,
        address=address,
        prev_hash=prev,
    )
    db.execute(
        "INSERT INTO audit_log (id, at, actor, action, target, detail, address, prev_hash, hash)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (row_id, at, actor, action.value, target, facts, address, prev, digest),
    )


def record(
    store: Store,
    action: Action,
    actor: str,
    *,
    target: str = "",
    detail: Detail | None = None,
    address: str = "",
) -> None:
    """Add one row in a transaction of its own."""
    with store.transaction() as db:
        append(db, action, actor, target=target, detail=detail, address=address)


def record_once(
    store: Store,
    action: Action,
    actor: str,
    *,
    target: str = "",
    detail: Detail | None = None,
    address: str = "",
    within_s: float = SAME_ACCESS_WINDOW_S,
) -> bool:
    """Add a row unless the same access (user, action, target and facts) has one from the
    last ``within_s`` seconds; True if a row was added.

    For fetches that come in bursts: a video player asks for one file in many byte ranges
    while it plays and seeks, and a page loads the same picture again on every refresh.
    One row per user and item per window still says who saw what, and when to within the
    window, without a row per range request. The check runs again inside the write
    transaction, so two processes racing make one row, not two.
    """
    query = (
        "SELECT 1 FROM audit_log WHERE action = ? AND at >= ? AND actor = ? AND target = ?"
        " AND detail = ? LIMIT 1"
    )
    params = (action.value, time.time() - within_s, actor, target, _facts(detail))
    if store.read(query, params):
        return False
    with store.transaction() as db:
        if db.execute(query, params).fetchone():
            return False
        append(db, action, actor, target=target, detail=detail, address=address)
    return True


def _entry(row: sqlite3.Row) -> AuditEntry:
    fields = dict(row)
    fields["detail"] = json.loads(fields["detail"])
    return AuditEntry(**fields)


def entries(store: Store, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
    """Newest first; pass the smallest id seen as ``before`` for the previous page."""
    rows = store.read(
        "SELECT id, at, actor, action, target, detail, address FROM audit_log"
        " WHERE id < ? ORDER BY id DESC LIMIT ?",
        (before if before is not None else 2**62, limit),
    )
    return [_entry(row) for row in rows]


def latest(store: Store, action: Action) -> AuditEntry | None:
    """The newest row of one kind."""
    rows = store.read(
        "SELECT id, at, actor, action, target, detail, address FROM audit_log"
        " WHERE action = ? ORDER BY id DESC LIMIT 1",
        (action.value,),
    )
    return _entry(rows[0]) if rows else None
