"""The audit log: who did what, when and from where; rows are only ever added.

The table has no UPDATE or DELETE path in the code, and SQLite triggers (installed by
:func:`install_guards`) abort any statement that tries, so a rogue or mistaken query
cannot rewrite history either. Writers call :func:`append` inside their own transaction,
so an action and its audit row are committed together or not at all.

``detail`` is a small JSON object of facts (``{"role": "operator", "areas": [...]}``,
``{"note": "..."}``), so the page can show it in the reader's language.
"""

from __future__ import annotations

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
    address  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_action_time ON audit_log (action, at);
"""

APPEND_ONLY = ("audit_log", "alert_reviews")
Detail = dict[str, str | int | bool | list[str]]


def _guards(table: str) -> tuple[str, ...]:
    """Triggers that abort any UPDATE or DELETE on ``table``.

    They are whole statements with a ``;`` inside their body, so they cannot go through
    the store's schema runner (which splits on ``;``); they are executed one by one.
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
            for statement in _guards(table):
                db.execute(statement)


def append(
    db: sqlite3.Connection,
    action: Action,
    actor: str,
    *,
    target: str = "",
    detail: Detail | None = None,
    address: str = "",
) -> None:
    """Add one row inside the caller's transaction."""
    facts = json.dumps(detail or {}, ensure_ascii=False)
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail, address) VALUES (?,?,?,?,?,?)",
        (time.time(), actor, action.value, target, facts, address),
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


def login_failures(store: Store, since: float, username: str, address: str) -> tuple[int, int]:
    """Failed logins since ``since``: (for this user name, from this address)."""
    rows = store.read(
        "SELECT COALESCE(SUM(target = ?), 0), COALESCE(SUM(address = ?), 0) FROM audit_log"
        " WHERE action = ? AND at >= ?",
        (username, address, Action.LOGIN_FAILED.value, since),
    )
    return int(rows[0][0]), int(rows[0][1])
