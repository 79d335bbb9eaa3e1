"""The legal holds on the audit page, in real Chromium: an admin sees the holds in force and
lifts one, giving a reason; the hold is gone from the store and the lift is in the log."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import ConsoleMessage, expect, sync_playwright

from common import recordings
from common.store import Store
from dashboard.app import create_app
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.dashboard_site import fill_store, site_config
from tests.test_dashboard_i18n import log_in

pytestmark = [pytest.mark.browser]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    """The dashboard on a filled store with two holds; (base URL, store, id of the newer)."""
    database = tmp_path / "site.db"
    fill_store(database, alerts_per_camera=1)
    store = Store(database)
    try:
        now = time.time()
        for camera_id, reason in (("de-song", "Vụ 16/2026"), ("cho-gom", "Vụ 17/2026")):
            hold_id = recordings.add_legal_hold(
                store, camera_id, start=now - 600, end=now - 60, reason=reason, by="admin", at=now
            )
    finally:
        store.close()
    port = free_port()
    config = uvicorn.Config(
        create_app(site_config(), database), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 20)
        yield f"http://127.0.0.1:{port}", database, hold_id
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.timeout(120)
def test_an_admin_lifts_a_hold_on_the_audit_page(served: tuple[str, Path, int]) -> None:
    base_url, database, hold_id = served
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if is_error(m) else None)
        page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
        log_in(page, base_url, "admin", "/audit")
        rows = page.locator("#holds tr")
        expect(rows).to_have_count(2)
        row = page.locator(f'#holds tr[data-hold-id="{hold_id}"]')
        expect(row).to_contain_text("Vụ 17/2026")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "audit-holds.png"), full_page=True)
        row.locator("input").fill("Vụ việc đã xong")
        row.locator("button").click()
        expect(rows).to_have_count(1)
        expect(row).to_have_count(0)
        browser.close()
    with sqlite3.connect(database) as db:
        held = db.execute("SELECT id FROM legal_holds").fetchall()
        lifts = db.execute("SELECT actor, detail FROM audit_log WHERE action = 'hold.lift'")
        ((actor, detail),) = lifts.fetchall()
    assert hold_id not in {row[0] for row in held}
    assert len(held) == 1
    assert actor == "admin"
    assert json.loads(detail)["lift_reason"] == "Vụ việc đã xong"
    assert not errors, errors


def is_error(message: ConsoleMessage) -> bool:
    """A script error or CSP violation; failed requests are caught by status instead (the
    browser's own favicon request, which the page never makes, is 404 and is no error)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")
