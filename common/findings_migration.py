"""Schema 7: re-analysis findings become rows of ``alerts`` that carry their job's id.

Until schema 6 a re-analysis job's findings (:mod:`common.jobs`) had a table of their own,
``job_alerts``, with the alert's columns and its two pictures. From 7 on every alert is in
one place: ``alerts.job_id`` is NULL for a live alert and the job's id for a finding, and a
finding's pictures are in ``alert_images`` like a live alert's. Every query that serves live
alerts says ``job_id IS NULL``; :mod:`common.jobs` reads the findings by ``job_id``.

:func:`move_findings_into_alerts` adds the column and its index (only findings are indexed:
live alerts, the many, keep their NULL out of it), copies each ``job_alerts`` row into
``alerts`` and ``alert_images``, and drops ``job_alerts``. A finding gets a new id, so what
names it is renumbered with it: a case's findings (``case_findings.finding_id``) and a job's
plate reads that raised a watch-list finding (``plate_reads.alert_id``). The new ids start
above every id ``alerts``, ``job_alerts`` and the cases hold, so a case that still names a
finding deleted earlier (with its job) names no finding at all, never another one. The audit
log keeps the old ids in what it said then: it is append-only, and each such entry names the
finding's job too.
"""

from __future__ import annotations

import sqlite3

_COPIED = (
    "job_id, camera_id, kind, rule, class_name, track_id, severity, confidence, box,"
    " started_at, ended_at, triggered_at"
)
"""The columns a finding keeps as they are (its id is new, ``created_at`` is its job's)."""


def _has_table(db: sqlite3.Connection, table: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return row is not None


def add_job_column(db: sqlite3.Connection) -> None:
    """``alerts.job_id`` (NULL: a live alert) and the index of the findings, by job."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(alerts)")}
    if "job_id" not in columns:
        db.execute("ALTER TABLE alerts ADD COLUMN job_id INTEGER")
    db.execute(
        "CREATE INDEX IF NOT EXISTS alerts_job ON alerts (job_id, id) WHERE job_id IS NOT NULL"
    )


def move_findings_into_alerts(db: sqlite3.Connection) -> None:
    """Bring a file to schema 7 (see the module's docstring); inside the migration's
    transaction, so a failure leaves the file as it was."""
    add_job_column(db)
    if not _has_table(db, "job_alerts"):
        return  # a file made before re-analysis existed
    (next_id,) = db.execute(
        "SELECT MAX(COALESCE((SELECT MAX(id) FROM alerts), 0),"
        " COALESCE((SELECT MAX(id) FROM job_alerts), 0),"
        " COALESCE((SELECT MAX(finding_id) FROM case_findings), 0)) + 1"
    ).fetchone()
    renumbered: list[tuple[int, int]] = []
    findings = db.execute(
        f"SELECT id, {_COPIED},"
        " COALESCE((SELECT COALESCE(j.started_at, j.created_at) FROM analysis_jobs j"
        "  WHERE j.id = job_alerts.job_id), started_at),"
        " snapshot, crop FROM job_alerts ORDER BY id"
    )
    for old_id, *kept, snapshot, crop in findings:  # kept: _COPIED, then created_at
        db.execute(
            f"INSERT INTO alerts (id, {_COPIED}, created_at) VALUES ({', '.join('?' * 14)})",
            (next_id, *kept),
        )
        db.execute(
            "INSERT INTO alert_images (alert_id, snapshot, crop) VALUES (?,?,?)",
            (next_id, snapshot, crop),
        )
        renumbered.append((next_id, int(old_id)))
        next_id += 1
    db.executemany("UPDATE case_findings SET finding_id = ? WHERE finding_id = ?", renumbered)
    db.executemany(
        "UPDATE plate_reads SET alert_id = ? WHERE alert_id = ? AND job_id IS NOT NULL",
        renumbered,
    )
    db.execute("DROP TABLE job_alerts")
