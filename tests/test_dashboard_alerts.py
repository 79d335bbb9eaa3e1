"""The alert feed and the camera wall over HTTP and WebSocket, on a real SQLite store
filled with real JPEG alerts: filters and paging, acknowledge/resolve with notes pushed to
other dashboards, area scoping, thumbnails, camera states, and config-change auditing."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from common.store import Store
from dashboard.app import create_app
from ingest.health import CameraHealth
from tests.dashboard_site import add_alert, copy_store, fill_store, login, site_config


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alerts") / "site.db"
    fill_store(path, alerts_per_camera=3)
    return path


@pytest.fixture
def database(template: Path, tmp_path: Path) -> Path:
    return copy_store(template, tmp_path)


@pytest.fixture
def client(database: Path) -> Iterator[TestClient]:
    with TestClient(create_app(site_config(), database)) as test_client:
        yield test_client


def ids(client: TestClient, **query: object) -> list[int]:
    response = client.get("/api/alerts", params=query)
    assert response.status_code == 200, response.text
    return [alert["id"] for alert in response.json()]


def test_history_filters_and_pages(client: TestClient) -> None:
    login(client, "viewer")
    everything = ids(client)
    assert everything == sorted(everything, reverse=True)
    assert len(everything) == 6
    first, second = ids(client, limit=4), ids(client, limit=4, before=everything[3])
    assert first + second == everything
    market = ids(client, camera="cho-gom")
    assert market == ids(client, area="Thôn Bát Tràng")
    assert len(market) == 3
    assert len(ids(client, class_name="car")) == 1
    assert ids(client, rule="nguoi-tren-de") == ids(client, camera="de-song")
    assert ids(client, since=time.time() + 60) == []
    assert ids(client, until=time.time() + 60) == everything
    assert ids(client, state="new") == everything
    assert client.get("/api/alerts", params={"colour": "red"}).status_code == 422


def test_acknowledge_and_resolve_with_notes(client: TestClient, database: Path) -> None:
    csrf = {"X-CSRF-Token": login(client, "operator")}
    alert_id = ids(client, camera="cho-gom")[0]

    def review(action: str, note: str, alert: int = alert_id) -> httpx.Response:
        url = f"/api/alerts/{alert}/{action}"
        return client.post(url, json={"note": note}, headers=csrf)

    acked = review("acknowledge", "Đã cử tổ tuần tra")
    assert acked.status_code == 200
    assert acked.json()["state"] == "acknowledged"
    assert review("acknowledge", "").status_code == 409
    reviews = review("resolve", "Người bán hàng").json()["reviews"]
    assert [(r["action"], r["username"], r["note"]) for r in reviews] == [
        ("acknowledge", "operator", "Đã cử tổ tuần tra"),
        ("resolve", "operator", "Người bán hàng"),
    ]
    assert review("resolve", "").status_code == 409
    assert review("resolve", "x" * 1001, ids(client)[0]).status_code == 422
    assert ids(client, state="resolved") == [alert_id]
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT action, actor, target, detail FROM audit_log"
            " WHERE action LIKE 'alert.%' ORDER BY id"
        ).fetchall()
    assert rows == [
        ("alert.acknowledge", "operator", f"alert {alert_id}", '{"note": "Đã cử tổ tuần tra"}'),
        ("alert.resolve", "operator", f"alert {alert_id}", '{"note": "Người bán hàng"}'),
    ]


@pytest.mark.timeout(30)
def test_feed_pushes_new_alerts_and_changes_to_other_dashboards(
    client: TestClient, database: Path
) -> None:
    login(client, "viewer")
    newest = ids(client)[0]
    with client.websocket_connect(f"/ws/alerts?after={newest - 1}") as feed:
        assert feed.receive_json()["id"] == newest  # catching up from ?after=
        # An operator elsewhere acknowledges it (the feed keeps the viewer's session).
        csrf = {"X-CSRF-Token": login(client, "operator")}
        client.post(f"/api/alerts/{newest}/acknowledge", json={"note": "đang xem"}, headers=csrf)
        changed = feed.receive_json()
        assert (changed["id"], changed["state"]) == (newest, "acknowledged")
        assert changed["reviews"][0]["note"] == "đang xem"
        # The detection core stores a new alert: the feed finds it in the store.
        store = Store(database)
        try:
            new_id = add_alert(store, "cho-gom", seed=42)
        finally:
            store.close()
        assert feed.receive_json()["id"] == new_id


@pytest.mark.timeout(30)
def test_a_user_scoped_to_an_area_sees_only_its_cameras(client: TestClient) -> None:
    login(client, "dyke-viewer")
    assert [camera["id"] for camera in client.get("/api/cameras").json()] == ["de-song"]
    alerts = client.get("/api/alerts").json()
    assert {alert["camera_id"] for alert in alerts} == {"de-song"}
    assert ids(client, camera="cho-gom") == []
    market_alert = 1  # the first alert is of the market camera
    assert client.get(f"/api/alerts/{market_alert}/snapshot.jpg").status_code == 404
    assert client.get("/api/cameras/cho-gom").status_code == 404
    assert client.get("/api/cameras/cho-gom/thumbnail.jpg").status_code == 404
    with client.websocket_connect("/ws/alerts?after=0") as feed:
        sent = [feed.receive_json() for _ in range(3)]
    assert {alert["camera_id"] for alert in sent} == {"de-song"}


def test_thumbnails_are_small_recent_and_revalidated(client: TestClient) -> None:
    login(client, "viewer")
    response = client.get("/api/cameras/cho-gom/thumbnail.jpg")
    assert response.headers["content-type"] == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (180, 320)
    etag = response.headers["etag"]
    assert etag == f'"alert-{ids(client, camera="cho-gom")[0]}"'
    again = client.get("/api/cameras/cho-gom/thumbnail.jpg", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert client.get("/api/cameras/bai-xe/thumbnail.jpg").status_code == 404
    snapshot = client.get(f"/api/alerts/{ids(client)[0]}/snapshot.jpg")
    assert snapshot.status_code == 200
    assert snapshot.content.startswith(b"\xff\xd8")


def test_camera_states_include_degraded_analysis(client: TestClient, database: Path) -> None:
    login(client, "viewer")
    states = {camera["id"]: camera["state"] for camera in client.get("/api/cameras").json()}
    assert states == {"cho-gom": "online", "bai-xe": "unknown", "de-song": "offline"}
    with sqlite3.connect(database) as db:  # the detector beat last a minute ago
        db.execute("INSERT INTO heartbeats VALUES ('detect', ?, '')", (time.time() - 60,))
    camera = client.get("/api/cameras/cho-gom").json()
    assert camera["state"] == "degraded"
    assert "detect_url" not in camera
    assert "rtsp" not in str(camera)


def test_cameras_say_how_much_of_their_stream_is_decoded(
    client: TestClient, database: Path
) -> None:
    """The reader tells the camera's health, which stores the mode; the camera API gives it
    for an online camera only (an offline one decodes nothing, whatever it did last)."""
    store = Store(database)
    try:
        for camera_id in ("cho-gom", "de-song"):
            health = CameraHealth(camera_id, store, None, debounce_s=30)
            health.decode_mode(False)
            health.decode_mode(True)
    finally:
        store.close()
    login(client, "viewer")
    modes = {camera["id"]: camera["decode"] for camera in client.get("/api/cameras").json()}
    assert modes == {"cho-gom": "keyframes_only", "bai-xe": None, "de-song": None}
    store = Store(database)
    try:
        CameraHealth("cho-gom", store, None, debounce_s=30).decode_mode(False)  # motion again
    finally:
        store.close()
    assert client.get("/api/cameras/cho-gom").json()["decode"] == "full"


def test_config_changes_are_audited_once_per_change(database: Path) -> None:
    def start(**dashboard: object) -> None:
        with TestClient(create_app(site_config(**dashboard), database)):
            pass

    start()
    start()
    start(session_hours=8)
    with sqlite3.connect(database) as db:
        query = "SELECT actor, detail FROM audit_log WHERE action = 'config.changed'"
        rows = db.execute(query).fetchall()
    assert rows == [("system", '{"cameras": 3, "rules": 3}')] * 2
