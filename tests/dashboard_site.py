"""A small site for the dashboard tests: cameras in two areas, users of every role, and
alerts with real JPEG pictures in a real SQLite store (no camera or model needed)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import cv2
import numpy as np
from fastapi.testclient import TestClient

from common import alert_rows, camera_states, jobs
from common.accounts import Accounts, Role
from common.alert_rows import NewAlert
from common.config import SiteConfig
from common.jobs import JobSource, JobState, NewJob
from common.messages import CameraState, CameraStatus, Severity
from common.store import Store

PASSWORD = "mật-khẩu-đủ-dài"
AREA_MARKET = "Thôn Bát Tràng"
AREA_DYKE = "Đê sông Hồng"
USERS = {
    "admin": (Role.ADMIN, ()),
    "operator": (Role.OPERATOR, ()),
    "viewer": (Role.VIEWER, ()),
    "dyke-viewer": (Role.VIEWER, (AREA_DYKE,)),
}


TEST_CLIENT_HOST = "testserver"
"""The ``Host`` that Starlette's TestClient sends; the real servers of the tests use 127.0.0.1."""


def site_config(**dashboard: object) -> SiteConfig:
    """Three cameras: two in the market area, one on the dyke; the TestClient's host allowed."""
    zone = {"name": "all", "points": [[0, 0], [1, 0], [1, 1]]}

    def camera(camera_id: str, name: str, area: str, rule: str) -> dict[str, object]:
        return {
            "id": camera_id,
            "name": name,
            "area": area,
            "detect_url": f"rtsp://127.0.0.1:8554/{camera_id}",
            "zones": [zone],
            "rules": [{"kind": "intrusion", "name": rule, "zone": "all"}],
        }

    return SiteConfig.model_validate(
        {
            "site": {"name": "Công an xã Bát Tràng (thử)"},
            "dashboard": {"language": "vi", "allowed_hosts": [TEST_CLIENT_HOST], **dashboard},
            "cameras": [
                camera("cho-gom", "Chợ Gốm", AREA_MARKET, "nguoi-vao-cho"),
                camera("bai-xe", "Bãi xe UBND", AREA_MARKET, "xe-vao-bai"),
                camera("de-song", "Đê sông Hồng", AREA_DYKE, "nguoi-tren-de"),
            ],
        }
    )


def jpeg(width: int = 1280, height: int = 720, seed: int = 0) -> bytes:
    """A real JPEG: a gradient with a coloured box, different for each seed."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 1] = np.linspace(30, 120, width, dtype=np.uint8)
    x = 100 + (seed * 97) % (width - 300)
    cv2.rectangle(image, (x, 200), (x + 160, 500), (40, 40, 230), 4)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


def add_alert(
    store: Store, camera_id: str, class_name: str = "person", seed: int = 0, **fields: object
) -> int:
    rule = {"cho-gom": "nguoi-vao-cho", "bai-xe": "xe-vao-bai", "de-song": "nguoi-tren-de"}
    alert = NewAlert(
        camera_id=camera_id,
        kind="intrusion",
        rule=rule[camera_id],
        severity=Severity.WARNING,
        started_at=float(fields.pop("started_at", time.time())),  # type: ignore[arg-type]
        snapshot_jpeg=jpeg(seed=seed),
        crop_jpeg=jpeg(160, 300, seed),
        class_name=class_name,
        confidence=0.87,
        box=(100.0, 200.0, 260.0, 500.0),
    )
    return alert_rows.add_alert(store, alert)


def add_finished_job(store: Store, camera_id: str, findings: int = 2) -> int:
    """A re-analysis job over the last ten minutes of ``camera_id`` that ended ``done``,
    with ``findings`` person alerts (real JPEGs); returns its id."""
    now = time.time()
    job_id = jobs.add_job(
        store,
        NewJob(camera_id, JobSource.RECORDING, now - 600, now - 60, created_by="operator"),
    )
    for index in range(findings):
        alert = NewAlert(
            camera_id=camera_id,
            kind="intrusion",
            rule="nguoi-vao-cho",
            severity=Severity.WARNING,
            started_at=now - 500 + 60 * index,
            snapshot_jpeg=jpeg(seed=index),
            crop_jpeg=jpeg(160, 300, index),
            class_name="person",
            confidence=0.8,
            box=(100.0, 200.0, 260.0, 500.0),
        )
        jobs.add_job_alert(store, job_id, alert)
    jobs.report_progress(store, job_id, 1.0, 2700)
    jobs.finish(store, job_id, JobState.DONE)
    return job_id


def fill_store(database: Path, alerts_per_camera: int = 3) -> None:
    """Users of every role, camera states, and alerts on two of the three cameras (the
    market gate alternates person and car; the parking lot has no alert, so no picture)."""
    store = Store(database)
    try:
        accounts = Accounts(store)
        for username, (role, areas) in USERS.items():
            accounts.add_user(username, PASSWORD, role, actor="test", areas=areas)
        now = time.time()
        camera_states.add_camera_status(store, CameraStatus("cho-gom", CameraState.ONLINE, now))
        camera_states.add_camera_status(
            store, CameraStatus("de-song", CameraState.OFFLINE, now, "no packets")
        )
        camera_states.set_decode_mode(
            store, "cho-gom", keyframes_only=True, at=now
        )  # idle: no motion
        for index in range(alerts_per_camera):
            add_alert(store, "cho-gom", "car" if index % 2 else "person", seed=2 * index)
            add_alert(store, "de-song", "person", seed=2 * index + 1)
    finally:
        store.close()


def copy_store(template: Path, folder: Path) -> Path:
    """A private copy of a filled (and closed, so checkpointed) store: filling one costs a
    second of password hashing, copying it a millisecond."""
    database = folder / template.name
    shutil.copyfile(template, database)
    return database


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log ``client`` in; returns the CSRF token its changes must carry."""
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token
