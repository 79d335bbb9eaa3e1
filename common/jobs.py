"""Re-analysis jobs: the current rules run again over a recorded range or an uploaded file.

An operator asks "what would the rules have raised here?" about a camera's recordings
(yesterday 22:00-23:00) or about a video brought in on a USB stick. The dashboard creates a
job (``queued``); the re-analysis process takes the oldest (``running``), reports its
progress, and stores what the rules raised as the job's *findings*. A finding is a row of the
``alerts`` table like a live alert, with its pictures in ``alert_images``, but its ``job_id``
names the job (a live alert's is NULL): it is a finding of an investigation, not an event of
now. Every query that serves live alerts leaves it out (``job_id IS NULL``), and its writer
has no notices channel: a finding is never announced, pushed, sent to the station, counted in
the live metrics, shown in the feed, the alert list, search, cases' alerts, the wall or a
camera's page, and it holds no recording back from retention. :func:`job_alerts` and
:func:`job_alert` read the findings.

A job ends ``done``, ``failed`` (``detail`` says why) or ``cancelled`` (the operator asked:
a queued job is cancelled at once, a running one when the runner next looks). A job that was
running when the re-analysis process died is put back in the queue, its partial findings
deleted, so that every finished job has the findings of one whole run.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from common import alert_rows, plates
from common.box_text import box_from_text

if TYPE_CHECKING:
    from common.alert_rows import NewAlert
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS analysis_jobs (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    source      TEXT NOT NULL,
    start       REAL NOT NULL,
    end         REAL,
    upload_name TEXT,
    upload_path TEXT,
    state       TEXT NOT NULL DEFAULT 'queued',
    progress    REAL NOT NULL DEFAULT 0,
    frames      INTEGER NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    detail_code TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS analysis_jobs_state ON analysis_jobs (state, id);
"""
"""The jobs; their findings are rows of ``alerts`` (:mod:`common.alert_rows`), which until
schema 7 were a table of their own, ``job_alerts`` (:mod:`common.findings_migration`)."""


class JobSource(StrEnum):
    """What a job analyses."""

    RECORDING = "recording"
    """The camera's recorded segments between ``start`` and ``end`` (wall-clock)."""
    UPLOAD = "upload"
    """A file the operator uploaded; its first frame is taken to be at ``start``."""


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})

DETAIL_CODES = frozenset(
    {
        "done",
        "skipped",
        "cancelled",
        "interrupted",
        "camera_gone",
        "no_recordings",
        "upload_missing",
        "unreadable",
        "internal",
    }
)
"""What a job's ``detail_code`` may say; ``detail`` holds the runner's words (English, with
the technical reason), the page says the code in the operator's language."""


def add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a jobs table made by an earlier build up to this one (run at every open)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(analysis_jobs)")}
    if "detail_code" not in columns:
        db.execute("ALTER TABLE analysis_jobs ADD COLUMN detail_code TEXT NOT NULL DEFAULT ''")


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job about to be queued. For an upload, ``end`` is ``start`` plus the file's duration
    (when known) and ``upload_path`` is where the dashboard saved it."""

    camera_id: str
    source: JobSource
    start: float
    end: float | None
    created_by: str
    upload_name: str | None = None
    upload_path: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored; ``progress`` runs from 0 to 1, ``alerts`` counts its findings."""

    id: int
    camera_id: str
    source: JobSource
    start: float
    end: float | None
    upload_name: str | None
    upload_path: str | None
    state: JobState
    progress: float
    frames: int
    detail: str
    created_by: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    cancel_requested: bool
    alerts: int
    detail_code: str = ""


@dataclass(frozen=True, slots=True)
class JobAlert:
    """What the rules raised during a job, shaped like a live alert."""

    id: int
    job_id: int
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
    triggered_at: float | None


_JOB_COLUMNS = (
    "id, camera_id, source, start, end, upload_name, upload_path, state, progress, frames, "
    "detail, detail_code, created_by, created_at, started_at, finished_at, cancel_requested, "
    "(SELECT COUNT(*) FROM alerts WHERE alerts.job_id = analysis_jobs.id) AS alerts"
)
_ALERT_COLUMNS = (
    "id, job_id, camera_id, kind, rule, class_name, track_id, severity, confidence, box, "
    "started_at, ended_at, triggered_at"
)


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        camera_id=row["camera_id"],
        source=JobSource(row["source"]),
        start=row["start"],
        end=row["end"],
        upload_name=row["upload_name"],
        upload_path=row["upload_path"],
        state=JobState(row["state"]),
        progress=row["progress"],
        frames=row["frames"],
        detail=row["detail"],
        detail_code=row["detail_code"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        cancel_requested=bool(row["cancel_requested"]),
        alerts=row["alerts"],
    )


def _job_alert(row: sqlite3.Row) -> JobAlert:
    return JobAlert(
        id=row["id"],
        job_id=row["job_id"],
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
        triggered_at=row["triggered_at"],
    )


def add_job(store: Store, job: NewJob) -> int:
    """Queue a job; returns its id."""
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO analysis_jobs (camera_id, source, start, end, upload_name, upload_path,"
            " created_by, created_at) VALUES (?,?,?,?,?,?,?,?)",
            (
                job.camera_id,
                job.source.value,
                job.start,
                job.end,
                job.upload_name,
                job.upload_path,
                job.created_by,
                time.time(),
            ),
        )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def job(store: Store, job_id: int) -> Job | None:
    rows = store.read(f"SELECT {_JOB_COLUMNS} FROM analysis_jobs WHERE id = ?", (job_id,))
    return _job(rows[0]) if rows else None


def jobs(store: Store, limit: int = 50, before_id: int | None = None) -> list[Job]:
    """Newest first; ``before_id`` pages back."""
    rows = store.read(
        f"SELECT {_JOB_COLUMNS} FROM analysis_jobs WHERE id < ? ORDER BY id DESC LIMIT ?",
        (before_id if before_id is not None else 2**62, limit),
    )
    return [_job(row) for row in rows]


def queue_length(store: Store) -> int:
    """How many jobs wait in the queue."""
    rows = store.read(
        "SELECT COUNT(*) FROM analysis_jobs WHERE state = ?", (JobState.QUEUED.value,)
    )
    return int(rows[0][0])


def queued_by(store: Store, username: str) -> int:
    """How many jobs ``username`` has waiting in the queue."""
    rows = store.read(
        "SELECT COUNT(*) FROM analysis_jobs WHERE state = ? AND created_by = ?",
        (JobState.QUEUED.value, username),
    )
    return int(rows[0][0])


def upload_paths(store: Store, username: str) -> list[str]:
    """Where the files of ``username``'s upload jobs lie (each is kept until its job is
    deleted)."""
    rows = store.read(
        "SELECT upload_path FROM analysis_jobs WHERE created_by = ? AND upload_path IS NOT NULL",
        (username,),
    )
    return [str(row[0]) for row in rows]


def claim_next(store: Store) -> Job | None:
    """Take the oldest queued job: it becomes ``running``."""
    with store.transaction() as db:
        row = db.execute(
            "SELECT id FROM analysis_jobs WHERE state = ? ORDER BY id LIMIT 1",
            (JobState.QUEUED.value,),
        ).fetchone()
        if row is None:
            return None
        db.execute(
            "UPDATE analysis_jobs SET state = ?, started_at = ?, progress = 0, frames = 0"
            " WHERE id = ?",
            (JobState.RUNNING.value, time.time(), row["id"]),
        )
    return job(store, row["id"])


def report_progress(store: Store, job_id: int, progress: float, frames: int) -> None:
    """How far a running job is (0..1) and how many frames it analysed."""
    with store.transaction() as db:
        db.execute(
            "UPDATE analysis_jobs SET progress = ?, frames = ? WHERE id = ?",
            (min(1.0, max(0.0, progress)), frames, job_id),
        )


def set_end(store: Store, job_id: int, end: float) -> None:
    """Record where a job's media ends, once the runner knows (an upload's duration)."""
    with store.transaction() as db:
        db.execute("UPDATE analysis_jobs SET end = ? WHERE id = ?", (end, job_id))


def finish(store: Store, job_id: int, state: JobState, detail: str = "", code: str = "") -> None:
    """End a job: ``done`` (progress 1), ``failed`` or ``cancelled``; ``code`` is one of
    :data:`DETAIL_CODES` (or empty)."""
    if state not in FINISHED:
        raise ValueError(f"{state} is not a finished state")
    if code and code not in DETAIL_CODES:
        raise ValueError(f"unknown detail code {code!r}")
    with store.transaction() as db:
        db.execute(
            "UPDATE analysis_jobs SET state = ?, detail = ?, detail_code = ?, finished_at = ?,"
            " progress = CASE WHEN ? THEN 1.0 ELSE progress END WHERE id = ?",
            (state.value, detail, code, time.time(), state == JobState.DONE, job_id),
        )


def request_cancel(store: Store, job_id: int) -> Job | None:
    """Cancel a queued job now, or ask a running one to stop; None if there is no such job."""
    with store.transaction() as db:
        db.execute(
            "UPDATE analysis_jobs SET state = ?, finished_at = ? WHERE id = ? AND state = ?",
            (JobState.CANCELLED.value, time.time(), job_id, JobState.QUEUED.value),
        )
        db.execute(
            "UPDATE analysis_jobs SET cancel_requested = 1 WHERE id = ? AND state = ?",
            (job_id, JobState.RUNNING.value),
        )
    return job(store, job_id)


def cancel_requested(store: Store, job_id: int) -> bool:
    rows = store.read("SELECT cancel_requested FROM analysis_jobs WHERE id = ?", (job_id,))
    return bool(rows and rows[0]["cancel_requested"])


def requeue_interrupted(store: Store) -> int:
    """Put jobs left ``running`` by a dead runner back in the queue, without their partial
    findings; returns how many. Call only when no runner is alive."""
    with store.transaction() as db:
        running = (JobState.RUNNING.value,)
        _delete_findings(db, "IN (SELECT id FROM analysis_jobs WHERE state = ?)", running)
        cursor = db.execute(
            "UPDATE analysis_jobs SET state = ?, progress = 0, frames = 0, started_at = NULL,"
            " detail = 'restarted after an interruption', detail_code = 'interrupted'"
            " WHERE state = ?",
            (JobState.QUEUED.value, *running),
        )
    return cursor.rowcount


def delete_job(store: Store, job_id: int) -> Job | None:
    """Remove a finished job and its findings; returns it (its upload file is the caller's
    to delete), or None if there is no such job. A queued or running job is cancelled first."""
    found = job(store, job_id)
    if found is None:
        return None
    if found.state not in FINISHED:
        raise ValueError("cancel the job before deleting it")
    with store.transaction() as db:
        _delete_findings(db, "= ?", (job_id,))
        plates.delete_job_reads(db, job_id)
        db.execute("DELETE FROM analysis_jobs WHERE id = ?", (job_id,))
    return found


def _delete_findings(db: sqlite3.Connection, jobs_where: str, params: tuple[object, ...]) -> None:
    """Inside a transaction: delete the findings (and their pictures, first) of the jobs whose
    id is ``job_id {jobs_where}``."""
    db.execute(
        "DELETE FROM alert_images WHERE alert_id IN"
        f" (SELECT id FROM alerts WHERE job_id {jobs_where})",
        params,
    )
    db.execute(f"DELETE FROM alerts WHERE job_id {jobs_where}", params)


def add_job_alert(store: Store, job_id: int, alert: NewAlert) -> int:
    """Store one finding of a job with its pictures: a row of ``alerts`` with the job's id
    (a finding has no producer's uid: that is the live alert stream's)."""
    return alert_rows.add_alert(store, replace(alert, uid=None), job_id=job_id)


def end_job_alert(store: Store, alert_id: int, ended_at: float) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE alerts SET ended_at = ? WHERE id = ? AND job_id IS NOT NULL",
            (ended_at, alert_id),
        )


def job_alerts(
    store: Store, job_id: int, limit: int = 100, after_id: int | None = None
) -> list[JobAlert]:
    """A job's findings in the order they were raised; ``after_id`` pages on."""
    rows = store.read(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?",
        (job_id, after_id or 0, limit),
    )
    return [_job_alert(row) for row in rows]


def job_alert(store: Store, alert_id: int) -> JobAlert | None:
    rows = store.read(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ? AND job_id IS NOT NULL", (alert_id,)
    )
    return _job_alert(rows[0]) if rows else None


def job_alert_picture(store: Store, alert_id: int, crop: bool = False) -> bytes | None:
    """A finding's JPEG: the whole frame with the box drawn, or the clean crop."""
    column = "crop" if crop else "snapshot"
    rows = store.read(
        f"SELECT i.{column} FROM alert_images i JOIN alerts a ON a.id = i.alert_id"
        " WHERE i.alert_id = ? AND a.job_id IS NOT NULL",
        (alert_id,),
    )
    return bytes(rows[0][0]) if rows and rows[0][0] is not None else None


class JobAlertSink:
    """Where a job's :class:`~detect.alerts.AlertKeeper` stores alerts: the job's findings
    (rows of ``alerts`` with its ``job_id``) instead of live alerts."""

    def __init__(self, store: Store, job_id: int) -> None:
        self._store = store
        self.job_id = job_id

    def add_alert(self, alert: NewAlert) -> int:
        return add_job_alert(self._store, self.job_id, alert)

    def end_alert(self, alert_id: int, ended_at: float) -> None:
        end_job_alert(self._store, alert_id, ended_at)
