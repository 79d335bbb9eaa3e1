"""The dashboard's policies for people and pictures, on the real app and a real store:
passwords the guessers' lists hold are refused, a login nobody uses ends, pictures and
footage never stay in a browser's cache, and a site-wide alert reaches every user,
whatever their areas."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common import alert_rows
from common.alert_rows import NewAlert
from common.messages import Severity
from common.pictures import text_card
from common.store import Store
from dashboard.app import create_app
from tests.dashboard_site import AREA_DYKE, add_alert, login, site_config
from tests.site_store import app, client, database, template

__all__ = ["app", "client", "database", "template"]  # fixtures, found by pytest here

I18N = Path(__file__).parents[1] / "dashboard" / "static" / "lib" / "i18n.js"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("123456789", "password_short"),
        ("1234567890", "password_common"),
        ("matkhau123", "password_common"),
        ("Mật Khẩu 2026!", "password_common"),
        ("iloveyou2026", "password_common"),
        ("qwertyuiop", "password_common"),
        ("password123", "password_common"),
        ("trucban-2026", "password_username"),
        ("nabcurt1234", "password_username"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(
    client: TestClient, password: str, code: str
) -> None:
    csrf = {"X-CSRF-Token": login(client, "admin")}
    new = {"username": "trucban", "password": password, "role": "viewer"}
    answer = client.post("/api/users", json=new, headers=csrf)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]["code"] == code
    # The users page has a sentence for the reason in both languages.
    assert len(re.findall(rf"\berror_{code}:", I18N.read_text("utf-8"))) == 2


def test_a_new_password_meets_the_same_policy(client: TestClient) -> None:
    csrf = {"X-CSRF-Token": login(client, "admin")}
    for password, code in (("matkhau123", "password_common"), ("viewer.2026", "password_username")):
        answer = client.patch("/api/users/viewer", json={"password": password}, headers=csrf)
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"]["code"] == code
    good = {"password": "sông-hồng-chiều-nay"}
    assert client.patch("/api/users/viewer", json=good, headers=csrf).status_code == 200


def test_a_strong_password_is_taken(client: TestClient) -> None:
    csrf = {"X-CSRF-Token": login(client, "admin")}
    new = {"username": "tuan", "password": "sông-hồng-chiều-nay", "role": "viewer"}
    assert client.post("/api/users", json=new, headers=csrf).status_code == 201
    login(client, "tuan", "sông-hồng-chiều-nay")


@pytest.mark.timeout(60)
def test_a_login_nobody_uses_ends_and_use_keeps_it_alive(database: Path) -> None:
    """Six idle seconds end the session; requests every four keep it going past them."""
    app = create_app(site_config(idle_timeout_minutes=0.1), database)
    with TestClient(app) as client:
        login(client, "viewer")
        for _ in range(2):
            time.sleep(4)  # 8 s in all: past the first deadline, kept alive by each use
            assert client.get("/api/me").status_code == 200
        time.sleep(7.5)
        assert client.get("/api/me").status_code == 401
        page = client.get("/cameras", follow_redirects=False)
        assert page.headers["location"].startswith("/login?next=")


def test_pictures_and_footage_are_never_cached(client: TestClient, database: Path) -> None:
    login(client, "viewer")
    alert = client.get("/api/alerts").json()[0]["id"]
    for path in (
        f"/api/alerts/{alert}/snapshot.jpg",
        f"/api/alerts/{alert}/crop.jpg",
        "/api/cameras/cho-gom/thumbnail.jpg",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "no-store", path
    # Footage that this store has none of: even the refusal is not kept.
    for path in ("/api/recordings/999/video.mp4", f"/api/alerts/{alert}/clip.mp4"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    assert client.get("/api/alerts").headers.get("cache-control") != "no-store"


def add_site_wide_alert(database: Path) -> int:
    """An "analysis down" alert as the supervisor raises it, and a dyke alert after it."""
    store = Store(database)
    try:
        alert = NewAlert(
            camera_id="*",
            kind="analysis_down",
            rule="analysis_down",
            severity=Severity.CRITICAL,
            started_at=time.time(),
            snapshot_jpeg=text_card("ANALYSIS DOWN", "detection core exited"),
        )
        site_wide = alert_rows.add_alert(store, alert)
        add_alert(store, "de-song", seed=7)
    finally:
        store.close()
    return site_wide


@pytest.mark.timeout(30)
def test_an_area_scoped_user_sees_site_wide_alerts(client: TestClient, database: Path) -> None:
    site_wide = add_site_wide_alert(database)
    login(client, "dyke-viewer")
    listed = {alert["id"]: alert["camera_id"] for alert in client.get("/api/alerts").json()}
    assert listed.get(site_wide) == "*"
    in_area = client.get("/api/alerts", params={"area": AREA_DYKE}).json()
    assert site_wide in [alert["id"] for alert in in_area]
    one_camera = client.get("/api/alerts", params={"camera": "de-song"}).json()
    assert site_wide not in [alert["id"] for alert in one_camera]
    assert client.get(f"/api/alerts/{site_wide}/snapshot.jpg").status_code == 200
    with client.websocket_connect("/ws/alerts?after=0") as feed:
        sent = [feed.receive_json()["camera_id"] for _ in range(2)]
    assert sent == ["de-song", "*"]  # oldest first, the market's left out
