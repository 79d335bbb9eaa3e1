"""Camera passwords stay secret: a whole service is searched for them, everywhere it speaks.

The farm asks for a login; one camera has the right password and streams (with a person rule,
so there are alerts to show), one has a wrong one and is refused, and a live view of the
refused camera is asked for, so the credentialed URL goes through ingest, detection and the
dashboard's live relay. Then the service log, ``/metrics``, every GET route of the API, the
alert feed, the pages and the store's files are searched for both passwords, plain and
URL-encoded: nothing may be found.

Cookie flags, the login rate limit and the role table are tested in
``tests/test_dashboard_auth.py`` and ``tests/test_dashboard_access.py``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from benchmarks.service_probe import AlertListener
from common.config_loader import load_site
from dashboard.app import create_app
from dashboard.auth import CSRF_HEADER
from matthan.farm import CameraFarm, Mount
from tests.conftest import Service, free_port
from tests.ingest_run import wait_for
from tests.paths import clips_dir
from tests.webrtc_offers import h264_offer

pytestmark = pytest.mark.e2e

SECRET = "Kh0ng-Ai-Biet!@2026"
WRONG = "Mat#Khau Cu/2025"
ADMIN, ADMIN_PASSWORD = "quantri", "mật-khẩu-quản-trị-2026"
SITE = """\
site: {{name: "Secrets test"}}
storage: {{database: data/test.db}}
dashboard: {{port: {port}}}
detector: {{max_batch: 4, max_wait_ms: 20, input_size: 320}}
ingest: {{workers: 1, analysis_fps: 5, offline_alert_after_s: 2}}
recording: {{path: data/rec, segment_s: 2}}
cameras:
  - id: cong-chinh
    name: "Cổng chính"
    detect_url: {url}
    credentials: {{username_env: CAM_USER, password_env: CAM_PASS}}
    zones:
      - name: san
        points: [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]
    rules:
      - {{kind: intrusion, name: nguoi, zone: san, cooldown_s: 1}}
  - id: kho-hang
    name: "Kho hàng"
    detect_url: {url}
    credentials: {{username_env: CAM_USER, password_env: CAM_PASS_OLD}}
"""


def forms(secret: str) -> list[bytes]:
    """The ways a password can be written: as is, and URL-encoded as in an RTSP URL."""
    return [secret.encode(), quote(secret, safe="").encode()]


def concrete_gets(service: Service, ids: dict[str, str]) -> list[str]:
    """Every GET route of the API with its path parameters filled from ``ids``; routes that
    need an id this site has none of (an export) are left out."""
    app = create_app(load_site(service.config), Path("unused.db"))
    paths = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        if not isinstance(context.original_route, APIRoute) or "GET" not in (context.methods or ()):
            continue
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        if "{" not in path:
            paths.append(path)
    return paths


def collect_answers(client: httpx.Client, service: Service, ids: dict[str, str]) -> list[bytes]:
    """The body of every GET route: API, pages, health and /metrics."""
    now = time.time()
    query = {"start": now - 600, "end": now, "at": now - 30}
    bodies = []
    for path in concrete_gets(service, ids):
        params = query if path.endswith(("/timeline", "/playback")) else None
        response = client.get(path, params=params)
        assert response.status_code < 500, (path, response.status_code)
        bodies.append(response.content)
    return bodies


def latest_segment(service: Service) -> str:
    database = service.config.parent / "data" / "test.db"
    with contextlib.closing(sqlite3.connect(database, timeout=15)) as db:
        return str(db.execute("SELECT MAX(id) FROM segments").fetchone()[0])


@pytest.fixture
def farm() -> Iterator[CameraFarm]:
    mounts = [Mount("cam", clips_dir() / "pets09_s2l1_vtest.mp4")]
    with CameraFarm(mounts, username="admin", password=SECRET) as running:
        yield running


@pytest.mark.timeout(180)
def test_camera_passwords_appear_nowhere(
    farm: CameraFarm,
    start_service: Callable[[str, int], Service],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAM_USER", "admin")
    monkeypatch.setenv("CAM_PASS", SECRET)
    monkeypatch.setenv("CAM_PASS_OLD", WRONG)
    port = free_port()
    service = start_service(SITE.format(port=port, url=farm.url("cam")), port)
    service.add_user(ADMIN, ADMIN_PASSWORD)
    listener = AlertListener(service.base_url, ADMIN, ADMIN_PASSWORD)
    listener.start()
    seen: list[bytes] = []
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        me = client.post("/api/login", json={"username": ADMIN, "password": ADMIN_PASSWORD})
        csrf = me.json()["csrf_token"]

        def states() -> dict[str, str]:
            return {cam["id"]: cam["state"] for cam in client.get("/api/cameras").json()}

        wait_for(lambda: states() == {"cong-chinh": "online", "kho-hang": "failed"}, 60, "states")
        wait_for(lambda: listener.alerts, 60, "a person alert on the feed")
        live = client.post(
            "/api/cameras/kho-hang/webrtc",
            json={"sdp": h264_offer(), "type": "offer"},  # makes it dial the camera
            headers={CSRF_HEADER: csrf},
        )
        assert live.status_code == 502, live.text
        ids = {
            "camera_id": "cong-chinh",
            "alert_id": str(max(listener.alerts)),
            "segment_id": latest_segment(service),
        }
        seen += [live.content, *collect_answers(client, service, ids)]
        ids["camera_id"] = "kho-hang"
        seen += collect_answers(client, service, ids)
    listener.stop()
    seen += [repr(listener.alerts).encode()]
    assert service.stop() == 0
    log = service.log_text()
    assert "login refused" in log  # the refused camera was reported, and searched below
    database = service.config.parent / "data"
    seen += [log.encode(), *(path.read_bytes() for path in database.glob("test.db*"))]
    everything = b"\n".join(seen)
    for sign in (b"kho-hang", b"matthan_ingest_packets_total", b"login refused", b"rtsp://"):
        assert sign in everything  # the search covers what it claims to
    for secret in (SECRET, WRONG):
        for form in forms(secret):
            assert not any(form in text for text in seen), f"{form!r} leaked"
