"""A case's exported packages: asked for, being built, done or failed.

Exporting a case (:mod:`dashboard.services.case_export`) cuts every clip from the recordings, which
can take minutes, so the request only records that a package was asked for
(:func:`start_export`, ``running``) and the package is built after the answer; the row then
says ``done`` with the ZIP's size and SHA-256, or ``failed`` with why. The request's audit
row (``case.export``, who and why) is written with the row, before the package is built, so
the trail inside the package already names who exported it.

The files live in the exports folder like any evidence export (``exports/FOLDER/`` and
``exports/FOLDER.zip``, :mod:`common.evidence`), so export retention removes them after
``recording.exports_retain_days`` unless their footage is on legal hold.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from common import audit, cases
from common.audit import Action

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS case_exports (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER NOT NULL REFERENCES cases (id),
    folder       TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL DEFAULT 'running',
    reason       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at REAL NOT NULL,
    finished_at  REAL,
    bytes        INTEGER,
    sha256       TEXT,
    detail       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS case_exports_case ON case_exports (case_id, id);
"""


class ExportState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportBusyError(RuntimeError):
    """The case has a package being built already."""


@dataclass(frozen=True, slots=True)
class CaseExport:
    """One package of a case; ``folder`` is its name in the exports folder (32 hex digits),
    ``bytes`` and ``sha256`` are the ZIP's once it is done."""

    id: int
    case_id: int
    folder: str
    state: ExportState
    reason: str
    requested_by: str
    requested_at: float
    finished_at: float | None
    bytes: int | None
    sha256: str | None
    detail: str


_COLUMNS = (
    "id, case_id, folder, state, reason, requested_by, requested_at, finished_at, bytes,"
    " sha256, detail"
)


def _export(row: sqlite3.Row) -> CaseExport:
    return CaseExport(
        id=row["id"],
        case_id=row["case_id"],
        folder=row["folder"],
        state=ExportState(row["state"]),
        reason=row["reason"],
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        finished_at=row["finished_at"],
        bytes=row["bytes"],
        sha256=row["sha256"],
        detail=row["detail"],
    )


def start_export(
    store: Store, case_id: int, folder: str, reason: str, *, by: str, address: str = ""
) -> CaseExport:
    """Record that ``by`` asked for a package of the case, and its audit row, together;
    :class:`ExportBusyError` while another package of the case is being built."""
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM cases WHERE id = ?", (case_id,)).fetchone() is None:
            raise cases.CaseNotFoundError(f"no case {case_id}")
        busy = db.execute(
            "SELECT 1 FROM case_exports WHERE case_id = ? AND state = ?",
            (case_id, ExportState.RUNNING),
        ).fetchone()
        if busy is not None:
            raise ExportBusyError(f"a package of case {case_id} is being built")
        cursor = db.execute(
            "INSERT INTO case_exports (case_id, folder, reason, requested_by, requested_at)"
            " VALUES (?,?,?,?,?)",
            (case_id, folder, reason, by, time.time()),
        )
        assert cursor.lastrowid is not None
        export_id = cursor.lastrowid
        detail: audit.Detail = {"case": case_id, "case_export": export_id, "reason": reason}
        audit.append(
            db, Action.CASE_EXPORT, by, target=cases.target(case_id), detail=detail, address=address
        )
    found = case_export(store, export_id)
    assert found is not None
    return found


def finish_export(
    store: Store,
    export_id: int,
    state: ExportState,
    *,
    size: int | None = None,
    sha256: str | None = None,
    detail: str = "",
) -> None:
    """The package is built (``done``: the ZIP's size and SHA-256) or could not be
    (``failed``: why)."""
    with store.transaction() as db:
        db.execute(
            "UPDATE case_exports SET state = ?, finished_at = ?, bytes = ?, sha256 = ?,"
            " detail = ? WHERE id = ?",
            (state, time.time(), size, sha256, detail, export_id),
        )


INTERRUPTED = "the dashboard stopped while the package was being built; export again"


def fail_interrupted(store: Store) -> int:
    """Mark ``failed`` the packages left ``running`` by a dashboard that stopped while it
    built them (they are built in the dashboard process: at its start none can be running);
    returns how many. Their case may be exported again."""
    with store.transaction() as db:
        return db.execute(
            "UPDATE case_exports SET state = ?, finished_at = ?, detail = ? WHERE state = ?",
            (ExportState.FAILED, time.time(), INTERRUPTED, ExportState.RUNNING),
        ).rowcount


def case_export(store: Store, export_id: int) -> CaseExport | None:
    rows = store.read(f"SELECT {_COLUMNS} FROM case_exports WHERE id = ?", (export_id,))
    return _export(rows[0]) if rows else None


def case_exports(store: Store, case_id: int) -> list[CaseExport]:
    """The case's packages, newest first."""
    rows = store.read(
        f"SELECT {_COLUMNS} FROM case_exports WHERE case_id = ? ORDER BY id DESC", (case_id,)
    )
    return [_export(row) for row in rows]
