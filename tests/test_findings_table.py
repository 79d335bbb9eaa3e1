"""Re-analysis findings are rows of ``alerts`` with their job's id (schema 7).

A finding is stored like a live alert (same table, pictures in ``alert_images``) but never
answers a query of the live alerts: the history and its pages, the feed's catch-up, one
alert by id, its pictures, search, a camera's newest alert and its replay marks, reviews,
the core's orphan sweep, retention's open-alert protection, and a node's outbox. A store
file of schema 5, whose findings were the table ``job_alerts``, opens with them moved, every
reference to them renumbered, and deleting a job still deletes its findings.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import alert_outbox, alert_rows, cases, jobs, plates, recordings
from common.accounts import Role, User
from common.alert_query import AlertFilter, alert_marks, latest_alert, search
from common.alert_reviews import ReviewAction, UnknownAlertError, review_alert
from common.alert_rows import NewAlert
from common.alert_writer import AlertWriter
from common.jobs import JobAlert, JobAlertSink, JobSource, JobState, NewJob
from common.messages import Severity
from common.migrations import SCHEMA_VERSION
from common.store import Store
from detect.alerts import AlertKeeper

CAMERA = "nga-tu"

JOB_ALERTS_OF_SCHEMA_5 = """
CREATE TABLE job_alerts (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES analysis_jobs (id) ON DELETE CASCADE,
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
    triggered_at REAL,
    snapshot    BLOB NOT NULL,
    crop        BLOB
)
"""
"""The findings' own table as schema 5 had it (``common/jobs.py`` before schema 7)."""


def alert(started_at: float, rule: str = "vao-long-duong", picture: bytes = b"live") -> NewAlert:
    return NewAlert(
        camera_id=CAMERA,
        kind="intrusion",
        rule=rule,
        severity=Severity.WARNING,
        started_at=started_at,
        snapshot_jpeg=picture,
        class_name="person",
        track_id=7,
        confidence=0.8,
        box=(1.0, 2.0, 30.0, 40.0),
        crop_jpeg=picture + b"-crop",
        triggered_at=started_at + 0.5,
    )


def queue_job(store: Store, start: float = 100.0) -> int:
    return jobs.add_job(store, NewJob(CAMERA, JobSource.RECORDING, start, start + 60, "op"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "store.db")
    yield opened
    opened.close()


def test_a_finding_is_an_alert_row_of_its_job_that_no_live_query_answers(store: Store) -> None:
    first = alert_rows.add_alert(store, alert(1000.0))
    job_id = queue_job(store)
    # Through the one writer, as the re-analysis runner stores it (no notices channel).
    finding = AlertWriter(JobAlertSink(store, job_id), None).open(
        alert(5000.0, rule="tim-lai", picture=b"found")
    )
    second = alert_rows.add_alert(store, alert(2000.0))
    assert first < finding < second
    row = store.read("SELECT job_id FROM alerts WHERE id = ?", (finding,))
    assert row[0]["job_id"] == job_id
    # The job's own reads see it, with its pictures and the count.
    (found,) = jobs.job_alerts(store, job_id)
    assert (found.id, found.job_id, found.rule) == (finding, job_id, "tim-lai")
    assert jobs.job_alert_picture(store, finding) == b"found"
    assert jobs.job_alert_picture(store, finding, crop=True) == b"found-crop"
    assert jobs.job_alert(store, first) is None  # a live alert is no finding
    assert jobs.job_alert_picture(store, first) is None
    job = jobs.job(store, job_id)
    assert job is not None
    assert job.alerts == 1

    # No live query answers it, though it is the newest by start.
    assert [a.id for a in alert_rows.recent_alerts(store)] == [second, first]
    assert [a.id for a in alert_rows.recent_alerts(store, before_id=second)] == [first]
    assert [a.id for a in alert_rows.alerts_after(store, 0)] == [first, second]
    assert alert_rows.alert(store, finding) is None
    assert alert_rows.snapshot(store, finding) is None
    assert alert_rows.snapshot(store, finding, crop=True) is None
    assert [a.id for a in search(store, AlertFilter(), limit=2)] == [second, first]
    assert [a.id for a in search(store, AlertFilter(rule="tim-lai"))] == []
    assert latest_alert(store, CAMERA) == (second, 2000.0)
    assert [m.id for m in alert_marks(store, CAMERA, 0.0, 10_000.0)] == [first, second]
    reviewer = User(1, "op", Role.OPERATOR, (), "vi", False, 0.0)
    with pytest.raises(UnknownAlertError):
        review_alert(store, finding, ReviewAction.ACKNOWLEDGE, user=reviewer, note="", address="")

    # A live core's orphan sweep ends live alerts only; a live end never touches a finding.
    assert AlertKeeper.end_orphans(store, 3000.0) == 2
    alert_rows.end_alert(store, finding, 3000.0)
    (still_open,) = jobs.job_alerts(store, job_id)
    assert still_open.ended_at is None
    # An open finding holds no recording back from retention (an open live alert does).
    segment = recordings.add_segment(store, CAMERA, start=4990.0, end=5010.0, path="a.mp4", size=1)
    assert [s.id for s in recordings.retention_candidates(store, None)] == [segment]

    # A node's outbox sends the live alerts and their ends, never the finding.
    at = alert_outbox.cursor(store)
    assert [p.row_id for p in alert_outbox.pending_opens(store, at)] == [first, second]
    jobs.end_job_alert(store, finding, 5010.0)
    (ended,) = jobs.job_alerts(store, job_id)
    assert ended.ended_at == 5010.0
    sent = alert_outbox.OutboxCursor(at.origin, second, 0.0, 0, 0)
    assert [p.row_id for p in alert_outbox.pending_ends(store, sent)] == [first, second]


def test_deleting_a_job_or_requeueing_it_deletes_its_findings_and_their_pictures(
    store: Store,
) -> None:
    live = alert_rows.add_alert(store, alert(1000.0))
    kept_job, deleted_job = queue_job(store), queue_job(store)
    kept = jobs.add_job_alert(store, kept_job, alert(10.0, picture=b"kept"))
    gone = [jobs.add_job_alert(store, deleted_job, alert(20.0 + n)) for n in range(3)]
    jobs.finish(store, deleted_job, JobState.DONE)
    deleted = jobs.delete_job(store, deleted_job)
    assert deleted is not None
    assert deleted.alerts == 3
    marks = ",".join("?" * len(gone))
    assert store.read(f"SELECT id FROM alerts WHERE id IN ({marks})", tuple(gone)) == []
    assert store.read(f"SELECT 1 FROM alert_images WHERE alert_id IN ({marks})", tuple(gone)) == []
    assert [f.id for f in jobs.job_alerts(store, kept_job)] == [kept]
    assert jobs.job_alert_picture(store, kept) == b"kept"
    assert alert_rows.alert(store, live) is not None
    assert alert_rows.snapshot(store, live) == b"live"

    # A runner that died leaves its job running: the job is queued again without them.
    claimed = jobs.claim_next(store)
    assert claimed is not None
    assert claimed.id == kept_job
    assert jobs.requeue_interrupted(store) == 1
    assert jobs.job_alerts(store, kept_job) == []
    assert store.read("SELECT 1 FROM alert_images WHERE alert_id = ?", (kept,)) == []
    assert [a.id for a in alert_rows.recent_alerts(store)] == [live]


def make_schema_5_file(path: Path) -> None:
    """A store as schema 5 left it: ``alerts`` without ``job_id``, the findings in
    ``job_alerts``. Made by opening a store of today and taking schema 7 back out."""
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX alerts_job")
        db.execute("ALTER TABLE alerts DROP COLUMN job_id")
        db.execute(JOB_ALERTS_OF_SCHEMA_5)
        db.execute("PRAGMA user_version=5")


def fill_schema_5_file(path: Path) -> None:
    """Live alert 1; jobs 1 (started) and 2 (never started) with findings 1 and 5, and 2;
    a case holding findings 1, 5 and 6 (deleted with its job long ago); job 1's plate read
    that raised finding 5, and a live read that raised alert 1."""
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO alerts (id, camera_id, kind, rule, severity, started_at, created_at)"
            " VALUES (1, ?, 'intrusion', 'song', 'warning', 50.0, 51.0)",
            (CAMERA,),
        )
        db.execute("INSERT INTO alert_images (alert_id, snapshot) VALUES (1, x'01')")
        for job_id, started in ((1, 90.0), (2, None)):
            db.execute(
                "INSERT INTO analysis_jobs (id, camera_id, source, start, end, state, created_by,"
                " created_at, started_at) VALUES (?, ?, 'recording', 0, 60, 'done', 'op', 80, ?)",
                (job_id, CAMERA, started),
            )
        box = "[1.0, 2.0, 3.0, 4.0]"
        findings = [
            (1, 1, "tim-nguoi", "person", 3, "critical", 0.9, box, 10.0, 12.0, 10.5),
            (2, 2, "tim-xe", "car", None, "info", None, None, 20.0, None, None),
            (5, 1, "tim-cho", "dog", 4, "warning", 0.5, None, 30.0, 31.0, 30.2),
        ]
        for row in findings:
            db.execute(
                "INSERT INTO job_alerts (id, job_id, camera_id, kind, rule, class_name, track_id,"
                " severity, confidence, box, started_at, ended_at, triggered_at, snapshot, crop)"
                " VALUES (?, ?, ?, 'intrusion', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row[:2], CAMERA, *row[2:], f"s{row[0]}".encode(), f"c{row[0]}".encode()),
            )
        db.execute(
            "INSERT INTO cases (id, title, description, state, created_by, created_at,"
            " assigned_to, updated_at) VALUES (1, 'vu', '', 'open', 'op', 1, 'op', 1)"
        )
        for job_id, finding_id in ((1, 1), (1, 5), (3, 6)):
            db.execute(
                "INSERT INTO case_findings (case_id, job_id, finding_id, camera_id, added_by,"
                " added_at) VALUES (1, ?, ?, ?, 'op', 1)",
                (job_id, finding_id, CAMERA),
            )
        reads: tuple[tuple[int | None, int], ...] = ((1, 5), (None, 1))
        for reading_job, alert_id in reads:
            db.execute(
                "INSERT INTO plate_reads (camera_id, track_id, class_name, plate, plate_key,"
                " confidence, agreeing, crops, first_at, at, source, crop, alert_id, job_id)"
                " VALUES (?, 4, 'car', '75-H1', '75H1', 0.9, 3, 3, 1, 2, 'detect', x'00', ?, ?)",
                (CAMERA, alert_id, reading_job),
            )


def test_a_schema_5_store_opens_with_its_findings_moved_into_alerts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_schema_5_file(path)
    fill_schema_5_file(path)

    store = Store(path)
    try:
        assert store.read("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert SCHEMA_VERSION >= 7
        tables = {row[0] for row in store.read("SELECT name FROM sqlite_master")}
        assert "job_alerts" not in tables
        assert "alerts_job" in tables

        moved = jobs.job_alerts(store, 1) + jobs.job_alerts(store, 2)
        assert [f.rule for f in moved] == ["tim-nguoi", "tim-cho", "tim-xe"]
        # New ids, above every id the file held (case_findings' 6 among them).
        assert all(f.id > 6 for f in moved)
        person, dog, car = moved
        box = (1.0, 2.0, 3.0, 4.0)
        kept = (CAMERA, "intrusion", "tim-nguoi", "person", 3, "critical", 0.9, box, 10.0, 12.0)
        assert person == JobAlert(person.id, 1, *kept, 10.5)
        bare = (CAMERA, "intrusion", "tim-xe", "car", None, "info", None, None, 20.0, None)
        assert car == JobAlert(car.id, 2, *bare, None)
        for finding, old_id in ((person, 1), (car, 2), (dog, 5)):
            assert jobs.job_alert_picture(store, finding.id) == f"s{old_id}".encode()
            assert jobs.job_alert_picture(store, finding.id, crop=True) == f"c{old_id}".encode()
        created = store.read(
            "SELECT id, created_at FROM alerts WHERE job_id IS NOT NULL ORDER BY id"
        )
        # Stored when their job ran (job 2 has no start: when it was queued).
        assert [row["created_at"] for row in created] == [90.0, 80.0, 90.0]
        counted = jobs.job(store, 1)
        assert counted is not None
        assert counted.alerts == 2

        # The live alert is as it was, and still the only live one.
        assert [a.id for a in alert_rows.recent_alerts(store)] == [1]
        assert alert_rows.snapshot(store, 1) == b"\x01"
        # What named a finding names it under its new id; the stale 6 names nothing.
        assert [(f.job_id, f.finding_id) for f in cases.findings(store, 1)] == [
            (3, 6),
            (1, person.id),
            (1, dog.id),
        ]
        assert jobs.job_alert(store, 6) is None
        stored_reads = store.read("SELECT job_id, alert_id FROM plate_reads ORDER BY id")
        assert [tuple(row) for row in stored_reads] == [(1, dog.id), (None, 1)]
        assert plates.plates_of_alerts(store, [1, dog.id]) == {1: "75-H1"}
    finally:
        store.close()

    # Opened again, nothing moves twice.
    again = Store(path)
    try:
        assert [f.id for f in jobs.job_alerts(again, 1)] == [person.id, dog.id]
        assert len(again.read("SELECT id FROM alerts")) == 4
    finally:
        again.close()
