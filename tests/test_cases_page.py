"""The cases page in real Chromium, in Vietnamese and English: an operator opens a case,
writes a note, hands it over, adds a clip of another camera, exports it and sees the
package ready; an alert card's "add to case" puts an alert in it. No console error (so no
CSP violation), no English while Vietnamese is chosen; screenshots in ``test-artifacts/``.

The dashboard runs in uvicorn on a real store with the market's real footage, alert,
finding and case (:mod:`tests.case_footage`) and the parking lot's recorded segment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from common import recordings
from common.accounts import Accounts, Role
from common.store import Store
from dashboard.app import create_app
from tests.area_footage import MarketFootage, add_market_footage, site_for
from tests.case_footage import add_market_case
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.dashboard_site import PASSWORD, fill_store
from tests.paths import clips_dir
from tests.test_dashboard_i18n import english_leaks, log_in
from tests.video_files import cut_clip

pytestmark = [pytest.mark.browser]
NIGHT_OPERATOR = "night-operator"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MarketFootage]]:
    """The dashboard's address and the market's footage; case 1 is the market's."""
    database = tmp_path_factory.mktemp("cases-page") / "site.db"
    fill_store(database, alerts_per_camera=1)
    footage = add_market_footage(database)
    add_market_case(database, footage)
    segment = cut_clip(
        clips_dir() / "intel_parking_lot_cars.mp4", database.parent / "bai-xe.mp4", 5.0
    )
    store = Store(database)
    try:
        Accounts(store).add_user(NIGHT_OPERATOR, PASSWORD, Role.OPERATOR, actor="test")
        recordings.add_segment(
            store,
            "bai-xe",
            start=footage.start,
            end=footage.end,
            path=str(segment),
            size=segment.stat().st_size,
        )
    finally:
        store.close()
    port = free_port()
    app = create_app(site_for(database), database)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 20)
        yield f"http://127.0.0.1:{port}", footage
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="vi-VN")
        yield context.new_page()
        browser.close()


def work_the_case(page: Page, footage: MarketFootage) -> None:
    """Open case 1, write a note, hand it over, add the parking lot's clip, export it."""
    page.locator('#cases .case-row[data-case-id="1"]').click()
    expect(page.locator("#case-title")).to_have_text("Trộm xe ở chợ")
    expect(page.locator("#case-alerts .case-item")).to_have_count(2)  # the alert, the finding
    expect(page.locator("#case-exports .export.state-done")).to_have_count(1)

    page.fill("#note-text", "Đã trích camera bãi xe.")
    page.click("#note-submit")
    expect(page.locator("#case-notes .case-note")).to_have_count(2)

    page.select_option("#assign-user", NIGHT_OPERATOR)
    page.fill("#assign-note", "Ca đêm xem tiếp.")
    page.click("#assign-submit")
    expect(page.locator("#case-assignee")).to_have_text(NIGHT_OPERATOR)
    expect(page.locator("#case-notes .kind-handover")).to_contain_text("Ca đêm xem tiếp.")

    page.select_option("#clip-camera", "bai-xe")
    start, end = page.evaluate(
        f"import('/static/lib/time.js').then((m) => [m.siteInputValue({footage.start + 1}),"
        f" m.siteInputValue({footage.start + 4})])"
    )
    page.fill("#clip-from", start)
    page.fill("#clip-to", end)
    page.click("#clip-submit")
    expect(page.locator("#case-clips .clip")).to_have_count(2)

    page.fill("#export-reason", "Theo yêu cầu của Công an huyện")
    page.click("#export-submit")
    expect(page.locator("#case-exports .export.state-done")).to_have_count(2, timeout=30_000)
    expect(page.locator("#case-history li").last).to_contain_text("Theo yêu cầu")


def add_an_alert_from_its_card(page: Page, base_url: str) -> None:
    """The dyke alert's card (not in the case yet) puts that alert in case 1 by its "add to
    case" button."""
    page.goto(f"{base_url}/")
    dyke = page.locator('a.camera[href="/cameras/de-song"]')
    card = page.locator("#alerts .alert", has=dyke).first
    alert_id = card.get_attribute("data-alert-id")
    card.locator(".add-to-case").click()
    expect(page.locator("#case-dialog")).to_be_visible()
    expect(page.locator("#case-pick option")).to_have_text(["#1 Trộm xe ở chợ"])
    assert english_leaks(page) == []
    page.locator("#case-dialog button[type=submit]").click()
    expect(page.locator("#toast")).to_have_text("Đã thêm vào vụ việc.")
    page.goto(f"{base_url}/cases#1")
    expect(page.locator(f'#case-alerts .alert[data-id="{alert_id}"]')).to_have_count(1)
    expect(page.locator("#case-history li").last).to_contain_text("Thêm cảnh báo vào vụ việc")


@pytest.mark.timeout(120)
def test_an_operator_works_a_case_on_the_page_in_vietnamese_and_english(
    page: Page, site: tuple[str, MarketFootage]
) -> None:
    base_url, footage = site
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(f"{page.url}: {message.text}")

    page.on("console", note)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    log_in(page, base_url, "operator", "/cases")
    work_the_case(page, footage)
    time.sleep(0.3)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "vi-cases.png"), full_page=True)
    assert english_leaks(page) == []

    page.click("#lang-toggle")
    expect(page.locator("#state-submit")).to_have_text("Close case")
    expect(page.locator("#case-history li").first).to_contain_text("Opened case")
    page.screenshot(path=str(ARTIFACTS / "en-cases.png"), full_page=True)
    page.click("#lang-toggle")  # back to Vietnamese for the alerts page
    expect(page.locator("#state-submit")).to_have_text("Đóng vụ việc")

    add_an_alert_from_its_card(page, base_url)
    assert problems == []


def test_a_viewer_reads_a_case_without_forms(page: Page, site: tuple[str, MarketFootage]) -> None:
    base_url, _ = site
    log_in(page, base_url, "viewer", "/cases")
    page.goto(f"{base_url}/cases#1")
    expect(page.locator("#case-title")).to_have_text("Trộm xe ở chợ")
    for form in ("#new-case", "#note-form", "#clip-form", "#export-form", "#case-actions"):
        expect(page.locator(form)).to_be_hidden()
    expect(page.locator(".add-to-case")).to_have_count(0)
    assert english_leaks(page) == []


def test_the_audit_page_says_every_case_change_in_vietnamese(
    page: Page, site: tuple[str, MarketFootage]
) -> None:
    """The case's rows in the admin's audit log: each action and fact has its words."""
    base_url, _ = site
    log_in(page, base_url, "admin", "/audit")
    for action in ("case.create", "case.clip_add", "case.note", "case.export"):
        expect(page.locator(f'#audit tr[data-action="{action}"]').first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "vi-audit-cases.png"))
    assert english_leaks(page) == []
