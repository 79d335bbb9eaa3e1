"""The tables of alerts and camera states: ``alerts``, ``alert_images`` (an alert's pictures),
``camera_events`` (each camera's state changes) and ``camera_decode`` (each camera's decode
mode). :class:`common.store.Store` holds their queries; :mod:`common.migrations` creates them.

``alerts`` holds the live alerts (``job_id`` NULL) and the findings of re-analysis jobs
(``job_id`` the job's: :mod:`common.jobs`, :mod:`common.findings_migration`), each with its
pictures in ``alert_images``. A query that serves live alerts says ``job_id IS NULL``.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id          INTEGER PRIMARY KEY,
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
    created_at  REAL NOT NULL,
    triggered_at REAL,
    state       TEXT NOT NULL DEFAULT 'new',
    job_id      INTEGER,
    uid         TEXT
);
CREATE INDEX IF NOT EXISTS alerts_camera_time ON alerts (camera_id, started_at);
CREATE TABLE IF NOT EXISTS alert_images (
    alert_id    INTEGER PRIMARY KEY REFERENCES alerts (id),
    snapshot    BLOB NOT NULL,
    crop        BLOB
);
CREATE TABLE IF NOT EXISTS camera_events (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    state       TEXT NOT NULL,
    at          REAL NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS camera_events_camera_time ON camera_events (camera_id, at);
CREATE TABLE IF NOT EXISTS camera_decode (
    camera_id       TEXT PRIMARY KEY,
    keyframes_only  INTEGER NOT NULL,
    at              REAL NOT NULL
);
"""
