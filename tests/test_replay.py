"""Replay and evidence export in real Chromium, on footage recorded by the real service
from the camera farm: a click on the timeline plays the right moment of the right
segment, an alert's clip plays, the exported files match their manifest's SHA-256 and play,
and every fetch of footage is audited once, however many byte ranges the player asked for."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Service, free_port
from tests.test_e2e import SITE, add_admin, farm, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
__all__ = ["farm"]  # the farm fixture is shared with the walking-skeleton test

RECORDING = "recording: {segment_s: 4}\n"


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
        browser.close()


def rows(service: Service, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(service.config.parent / "data" / "test.db") as db:
        return db.execute(sql).fetchall()


def wait_rows(service: Service, sql: str, count: int, timeout_s: float) -> list[tuple[object, ...]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = rows(service, sql)
        if len(found) >= count:
            return found
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} rows after {timeout_s} s: {sql}")


@pytest.mark.timeout(200)
def test_replay_clip_and_export(
    farm: object, start_service: Callable[[str, int], Service], page: Page
) -> None:
    port = free_port()
    config = SITE.format(port=port, url=farm.url("pets")) + RECORDING  # type: ignore[attr-defined]
    service = start_service(config, port)
    add_admin(service, "trucban")
    segments = wait_rows(service, "SELECT id, start, end FROM segments ORDER BY start", 3, 60)
    (alert_id,) = wait_rows(service, "SELECT id FROM alerts WHERE kind='intrusion'", 1, 30)[0]
    log_in(page, service.base_url, "trucban")
    page.goto(f"{service.base_url}/cameras/nga-tu-cho-gom")
    expect(page.locator("#timeline .tl-rec").first).to_be_attached(timeout=15_000)

    # A moment inside the second segment plays from the right offset of that segment.
    segment_id, start, _ = segments[1]
    moment = float(start) + 2.5
    page.evaluate(f"() => window.matthan.replay.playAt({moment})")
    page.wait_for_function("() => document.getElementById('replay-video').currentTime > 2.6")
    src = page.evaluate("() => document.getElementById('replay-video').currentSrc")
    assert src.endswith(f"/api/recordings/{segment_id}/video.mp4")
    assert page.evaluate("() => document.getElementById('replay-video').videoWidth") == 768

    # The alert's clip plays, with the pre-roll before the alert.
    page.evaluate(f"() => window.matthan.replay.playClip({alert_id})")
    page.wait_for_function(
        "() => { const v = document.getElementById('replay-video');"
        " return v.currentSrc.includes('/clip.mp4') && v.currentTime > 1 && v.duration > 5; }",
        timeout=20_000,
    )

    # Export the window of the first two segments and check every file against the manifest.
    page.evaluate(
        "async ([from, to]) => {"
        " const { siteInputValue } = await import('/static/lib/time.js');"
        " document.getElementById('export-from').value = siteInputValue(from);"
        " document.getElementById('export-to').value = siteInputValue(to); }",
        [float(segments[0][1]) + 1, float(segments[1][2]) - 1],
    )
    page.fill("#export-reason", "Vụ việc số 17/2026")
    page.click("#export-submit")
    expect(page.locator("#export-zip")).to_be_visible(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "replay-export.png"), full_page=True)
    manifest_url = page.get_attribute("#export-manifest", "href")
    manifest = json.loads(page.request.get(f"{service.base_url}{manifest_url}").body())
    assert manifest["exported_by"] == "trucban"
    assert manifest["reason"] == "Vụ việc số 17/2026"
    for entry in manifest["files"]:
        url = f"{service.base_url}{Path(manifest_url).parent}/{entry['name']}"
        body = page.request.get(url).body()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
        assert len(body) == entry["bytes"]
    first_file = f"{Path(manifest_url).parent}/{manifest['files'][0]['name']}"
    page.evaluate(
        "(url) => { const v = document.getElementById('replay-video');"
        " v.onloadedmetadata = null; v.src = url; v.play().catch(() => {}); }",
        first_file,
    )
    page.wait_for_function(
        "(url) => { const v = document.getElementById('replay-video');"
        " return v.currentSrc.endsWith(url) && v.readyState >= 2 && v.currentTime > 0.5; }",
        arg=first_file,
        timeout=30_000,
    )
    holds = rows(service, "SELECT reason FROM legal_holds")
    assert holds == [("Vụ việc số 17/2026",)]  # an admin's export
    actions = [row[0] for row in rows(service, "SELECT action FROM audit_log")]
    assert {"playback", "export", "footage.clip"} <= set(actions)
    assert actions.count("footage.recording") == 1  # one segment played, in many ranges
    assert actions.count("footage.export") == 1 + len(manifest["files"])  # manifest, files
