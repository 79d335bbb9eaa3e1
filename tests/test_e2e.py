"""The walking skeleton, end to end on real parts, as an operator uses it.

The camera farm serves the PETS 2009 crossroads clip over RTSP; ``matthan run`` reads it,
detects with the real model, applies a zone rule and stores the alert in SQLite. The first
admin is made with ``matthan user add`` (password from MATTHAN_PASSWORD). In headless
Chromium the operator logs in, sees a person alert arrive without a reload, acknowledges it
with a note, and finds the acknowledgement in the audit log.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from matthan.farm import CameraFarm, Mount
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Service, free_port
from tests.paths import clips_dir

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "mật-khẩu-trực-ban-2026"
NOTE = "Đã cử tổ tuần tra đến ngã tư"
SITE = """\
site: {{name: "Công an xã Bát Tràng (test)"}}
storage: {{database: data/test.db}}
dashboard: {{port: {port}, language: vi}}
detector: {{max_batch: 4, max_wait_ms: 20}}
ingest: {{workers: 1, analysis_fps: 5}}
cameras:
  - id: nga-tu-cho-gom
    name: "Ngã tư chợ Gốm"
    area: "Thôn Bát Tràng"
    detect_url: {url}
    zones:
      - name: long-duong
        points: [[0.05, 0.2], [0.95, 0.2], [0.95, 0.98], [0.05, 0.98]]
    rules:
      - kind: intrusion
        name: nguoi-vao-long-duong
        zone: long-duong
        classes: [person]
        min_presence_s: 0.5
        cooldown_s: 10
"""


@pytest.fixture(scope="module")
def farm() -> Iterator[CameraFarm]:
    with CameraFarm([Mount("pets", clips_dir() / "pets09_s2l1_vtest.mp4")]) as running:
        yield running


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
        yield context.new_page()
        browser.close()


def add_admin(service: Service, name: str) -> None:
    """``matthan user add`` as an installer would run it, the password in the environment."""
    command = [sys.executable, "-m", "matthan.cli", "user", "add", "-c", str(service.config)]
    env = {**os.environ, "MATTHAN_PASSWORD": PASSWORD}
    done = subprocess.run(
        [*command, name, "--role", "admin"],
        env=env,
        cwd=service.config.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def log_in(page: Page, base_url: str, name: str) -> None:
    page.goto(base_url)
    expect(page.locator("#login-submit")).to_have_text("Đăng nhập")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}/")
    expect(page.locator("#site-name")).to_have_text("Công an xã Bát Tràng (test)")


def acknowledge(page: Page, alert_id: int) -> None:
    alert = page.locator(f'#alerts .alert[data-alert-id="{alert_id}"]')
    alert.locator("button.ack").click()
    page.fill("#review-note", NOTE)
    page.click("#review-dialog button[type=submit]")
    expect(alert.locator(".alert-state")).to_have_text("Đã xác nhận")
    expect(alert.locator(".reviews")).to_contain_text("trucban")
    expect(alert.locator(".reviews")).to_contain_text(NOTE)


@pytest.mark.timeout(180)
def test_operator_sees_and_acknowledges_a_live_person_alert(
    farm: CameraFarm, start_service: Callable[[str, int], Service], page: Page
) -> None:
    port = free_port()
    service = start_service(SITE.format(port=port, url=farm.url("pets")), port)
    add_admin(service, "trucban")
    log_in(page, service.base_url, "trucban")

    # A person alert arrives over the feed while the page is open (no reload).
    fresh = page.locator("#alerts .alert.fresh").first
    expect(fresh).to_be_visible(timeout=60_000)
    expect(fresh.locator(".camera")).to_have_text("Ngã tư chợ Gốm")
    expect(fresh.locator(".class-name")).to_have_text("Người")
    expect(fresh).to_contain_text("nguoi-vao-long-duong")
    expect(page.locator('[data-camera-id="nga-tu-cho-gom"] .cam-state')).to_have_text("Hoạt động")
    page.wait_for_function(
        "() => document.querySelector('#alerts .alert.fresh img').naturalWidth > 0", timeout=10_000
    )
    alert_id = int(fresh.get_attribute("data-alert-id") or 0)
    acknowledge(page, alert_id)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))  # scripts/readme-picture copies it

    # The alert shown is the one committed to the store, with its snapshot and its review.
    database = service.config.parent / "data" / "test.db"
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT a.camera_id, a.class_name, a.state, length(i.snapshot), r.username, r.note"
            " FROM alerts a JOIN alert_images i ON i.alert_id = a.id"
            " JOIN alert_reviews r ON r.alert_id = a.id WHERE a.id = ?",
            (alert_id,),
        ).fetchone()
    assert row is not None
    assert row[0:3] == ("nga-tu-cho-gom", "person", "acknowledged")
    assert row[3] > 10_000
    assert row[4:] == ("trucban", NOTE)
    alerts = page.request.get(f"{service.base_url}/api/alerts").json()
    assert any(item["id"] == alert_id for item in alerts)

    # The acknowledgement is in the audit log, as the admin page shows it.
    page.click("nav a[href='/audit']")
    entry = page.locator('#audit tr[data-action="alert.acknowledge"]').first
    expect(entry).to_contain_text("Xác nhận cảnh báo")
    expect(entry).to_contain_text(f"#{alert_id}")
    expect(entry).to_contain_text(NOTE)
    expect(page.locator('#audit tr[data-action="login.ok"]').first).to_contain_text("trucban")
    page.screenshot(path=str(ARTIFACTS / "audit.png"))

    # The camera wall shows the camera with its latest picture; English on demand.
    page.click("nav a[href='/cameras']")
    tile = page.locator('.tile[data-camera-id="nga-tu-cho-gom"]')
    expect(tile.locator(".cam-state")).to_have_text("Hoạt động")
    page.wait_for_function(
        "() => document.querySelector('.tile img').naturalWidth > 0", timeout=10_000
    )
    page.screenshot(path=str(ARTIFACTS / "wall.png"))
    page.click("#lang-toggle")
    expect(tile.locator(".cam-state")).to_have_text("Online")

    assert service.stop() == 0, service.log_text()[-3000:]
