"""Each camera's state changes (``camera_events``) and decode mode (``camera_decode``), and
their queries. Functions take the store (:class:`common.db.Database`) first;
:mod:`common.migrations` creates the tables. The ingest workers write both (a node's too,
and the station's intake the states a node sends); the dashboard and ``/readyz`` read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.messages import CameraState, CameraStatus

if TYPE_CHECKING:
    from common.db import Database

SCHEMA = """
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


def add_camera_status(store: Database, status: CameraStatus) -> None:
    """A camera changed state (online, offline...): one row of its history."""

    def insert() -> None:
        with store.transaction() as db:
            db.execute(
                "INSERT INTO camera_events (camera_id, state, at, detail) VALUES (?,?,?,?)",
                (status.camera_id, status.state.value, status.at, status.detail),
            )

    store.write("camera_event", insert)


def set_decode_mode(store: Database, camera_id: str, keyframes_only: bool, at: float) -> None:
    """Since ``at`` the camera is decoded keyframes only (idle) or fully; one row per
    camera, replaced at each change (a mode is no event: the history is not kept)."""

    def upsert() -> None:
        with store.transaction() as db:
            db.execute(
                "INSERT INTO camera_decode (camera_id, keyframes_only, at) VALUES (?,?,?) "
                "ON CONFLICT(camera_id) DO UPDATE "
                "SET keyframes_only=excluded.keyframes_only, at=excluded.at",
                (camera_id, int(keyframes_only), at),
            )

    store.write("decode_mode", upsert)


def keyframes_only_cameras(store: Database) -> dict[str, bool]:
    """Whether each camera that ever reported a decode mode is decoded keyframes only."""
    rows = store.read("SELECT camera_id, keyframes_only FROM camera_decode")
    return {row["camera_id"]: bool(row["keyframes_only"]) for row in rows}


def latest_camera_states(store: Database) -> dict[str, CameraStatus]:
    """The last known state of every camera that ever reported one."""
    rows = store.read(
        "SELECT camera_id, state, at, detail FROM camera_events WHERE id IN "
        "(SELECT MAX(id) FROM camera_events GROUP BY camera_id)"
    )
    return {
        row["camera_id"]: CameraStatus(
            row["camera_id"], CameraState(row["state"]), row["at"], row["detail"]
        )
        for row in rows
    }
