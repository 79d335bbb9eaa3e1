"""Every page under the site's own Content-Security-Policy, in real Chromium: no console error
and no CSP violation, the replay timeline's bars where its data puts them, and date-time fields
in the site's format.

The timeline placed its bars with ``style`` attributes, which ``default-src 'self'`` blocks:
every bar sat at the left edge and the console said so on every camera page. Bars are now
placed through the CSSOM; this test measures them against ``/api/cameras/{id}/timeline``.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, Service, free_port
from tests.test_e2e import SITE, add_admin, farm, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
__all__ = ["farm"]

CAMERA = "nga-tu-cho-gom"
PAGES = (
    "/",
    "/cameras",
    f"/cameras/{CAMERA}",
    "/reanalysis",
    "/audit",
    "/users",
    "/notifications",
    "/plates",
    "/search",
    "/cases",
    "/wall/live",
    f"/cameras/{CAMERA}?at={int(time.time()) - 30}",
)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        yield context.new_page()
        browser.close()


def segments_recorded(service: Service, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(service.config.parent / "data" / "test.db") as db:
            if db.execute("SELECT count(*) FROM segments").fetchone()[0] >= count:
                return
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} segments after {timeout_s} s")


@pytest.mark.timeout(150)
def test_no_page_breaks_its_csp_and_the_timeline_is_drawn_to_scale(
    farm: object, start_service: Callable[[str, int], Service], page: Page
) -> None:
    port = free_port()
    config = SITE.format(port=port, url=farm.url("pets")) + "recording: {segment_s: 4}\n"  # type: ignore[attr-defined]
    service = start_service(config, port)
    add_admin(service, "trucban")
    segments_recorded(service, 3, 60)
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(f"{page.url}: {message.text}")

    page.on("console", note)
    log_in(page, service.base_url, "trucban")
    for path in PAGES:
        page.goto(f"{service.base_url}{path}")
        page.wait_for_load_state("networkidle")
    assert problems == []

    page.goto(f"{service.base_url}/cameras/{CAMERA}")
    expect(page.locator("#timeline .tl-rec").first).to_be_attached(timeout=15_000)
    drawn = page.evaluate(
        """async () => {
          const replay = window.matthan.replay;
          const bar = document.getElementById("timeline").getBoundingClientRect();
          const query = `start=${replay.start}&end=${replay.end}`;
          const url = `/api/cameras/nga-tu-cho-gom/timeline?${query}`;
          const data = await (await fetch(url)).json();
          const spans = [...document.querySelectorAll("#timeline .tl-rec")].map((node) => {
            const box = node.getBoundingClientRect();
            return [(box.left - bar.left) / bar.width, box.width / bar.width];
          });
          return {start: replay.start, end: replay.end, width: bar.width,
                  segments: data.segments.map((s) => [s.start, s.end]), spans};
        }"""
    )
    span = drawn["end"] - drawn["start"]
    # Recording goes on: a segment that ended after the page drew its timeline may be listed
    # now (it started before the page's end); every bar drawn must be the segment at its place.
    drawn_count = len(drawn["spans"])
    assert drawn_count >= 3
    assert drawn_count <= len(drawn["segments"]) <= drawn_count + 1
    segments = drawn["segments"][:drawn_count]
    for (start, end), (left, width) in zip(segments, drawn["spans"], strict=True):
        expected_left = max(0.0, (start - drawn["start"]) / span)
        expected_width = min(1.0, (end - drawn["start"]) / span) - expected_left
        assert left == pytest.approx(expected_left, abs=0.005)
        assert width == pytest.approx(max(expected_width, 2 / drawn["width"]), abs=0.005)

    # Date-time fields in the site's format (dd/mm/yyyy HH:mm, 24 h), whatever the browser's.
    shown = page.input_value("#export-from")
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}(:\d{2})?", shown), shown
    read = page.evaluate(
        """async () => {
          const time = "/static/lib/time.js";
          const { formatTime, siteInputSeconds, siteInputValue } = await import(time);
          return [siteInputSeconds("07/12/2026 21:30"), siteInputSeconds("7/12/2026 21:30:15"),
                  siteInputSeconds("31/02/2026 10:00"), siteInputSeconds("12/07/2026 24:00"),
                  siteInputSeconds("2026-12-07T21:30"), siteInputValue(1796653800),
                  formatTime(1796653815)];
        }"""
    )
    at = 1796653800  # 07/12/2026 21:30 in Hà Nội (UTC+7)
    assert read == [at, at + 15, None, None, None, "07/12/2026 21:30", "07/12/2026 21:30:15"]
    assert problems == []
