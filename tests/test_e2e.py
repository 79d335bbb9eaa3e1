"""The walking skeleton, end to end on real parts.

The camera farm serves the PETS 2009 crossroads clip over RTSP; ``matthan run`` reads it,
detects with the real model, applies a zone rule and stores the alert in SQLite; the
dashboard, driven in headless Chromium, shows the person alert without a reload.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from benchmarks.farm import CameraFarm, Mount
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Service, free_port
from tests.paths import clips_dir

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

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


@pytest.mark.timeout(180)
def test_person_alert_reaches_the_dashboard(
    farm: CameraFarm, start_service: Callable[[str, int], Service], page: Page
) -> None:
    port = free_port()
    service = start_service(SITE.format(port=port, url=farm.url("pets")), port)
    page.goto(service.base_url)
    expect(page.locator("#site-name")).to_have_text("Công an xã Bát Tràng (test)")

    alert = page.locator("#alerts .alert").first
    expect(alert).to_be_visible(timeout=60_000)
    expect(alert.locator(".camera")).to_have_text("Ngã tư chợ Gốm")
    expect(alert.locator(".class-name")).to_have_text("Người")
    expect(alert).to_contain_text("nguoi-vao-long-duong")
    expect(page.locator('[data-camera-id="nga-tu-cho-gom"] .cam-state')).to_have_text("Hoạt động")
    page.wait_for_function(
        "document.querySelector('#alerts .alert img').naturalWidth > 0", timeout=10_000
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))

    # The alert shown is the one committed to the store, with its snapshot.
    alert_id = int(alert.get_attribute("data-alert-id") or 0)
    database = service.config.parent / "data" / "test.db"
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT a.camera_id, a.class_name, length(i.snapshot) FROM alerts a "
            "JOIN alert_images i ON i.alert_id = a.id WHERE a.id = ?",
            (alert_id,),
        ).fetchone()
    assert row is not None
    assert row[0:2] == ("nga-tu-cho-gom", "person")
    assert row[2] > 10_000
    with urllib.request.urlopen(f"{service.base_url}/api/alerts") as response:
        alerts = json.load(response)
    assert any(item["id"] == alert_id for item in alerts)

    # The English UI switches without a reload.
    page.click("#lang-toggle")
    expect(alert.locator(".class-name")).to_have_text("Person")

    assert service.stop() == 0, service.log_text()[-3000:]
