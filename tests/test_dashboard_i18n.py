"""Every page in Vietnamese, in real Chromium: no English string and no untranslated key is
visible while Vietnamese is chosen; the choice is the user's and survives a new login.

The dashboard runs in uvicorn on a real store filled with alerts with real JPEGs (no
camera or model needed: the real-model path is the e2e test's job).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from common import jobs
from common.jobs import JobSource, JobState, NewJob
from common.store import Store
from dashboard.app import create_app
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.dashboard_site import PASSWORD, add_finished_job, fill_store, site_config

pytestmark = [pytest.mark.browser]

# Visible text of the page: text nodes of shown elements, plus placeholders, tooltips and
# option labels (which a text walk misses), one string each.
VISIBLE_TEXT = """() => {
  const shown = (node) => node && node.checkVisibility && node.checkVisibility();
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    if (text && shown(walker.currentNode.parentElement)) texts.push(text);
  }
  document.querySelectorAll("[placeholder], [title]").forEach((node) => {
    if (shown(node)) texts.push(node.placeholder || "", node.title || "");
  });
  document.querySelectorAll("option").forEach((node) => texts.push(node.textContent.trim()));
  texts.push(document.title);
  return texts.filter(Boolean);
}"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard on a filled store, served by uvicorn in a thread."""
    database = tmp_path_factory.mktemp("i18n") / "site.db"
    fill_store(database)
    store = Store(database)
    try:
        add_finished_job(store, "cho-gom", findings=2)  # for the re-analysis page
        failed = jobs.add_job(
            store, NewJob("cho-gom", JobSource.RECORDING, 1.7e9, 1.7e9 + 60, "operator")
        )
        reason = "camera 'cho-gom' has no recordings between 2023-11-15 05:13:20 and 05:14:20"
        jobs.finish(store, failed, JobState.FAILED, reason, "no_recordings")
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
        yield context.new_page()
        browser.close()


def strings(page: Page, lang: str) -> dict[str, str]:
    table: dict[str, str] = page.evaluate(
        f"import('/static/lib/i18n.js').then((m) => m.STRINGS.{lang})"
    )
    return table


def english_leaks(page: Page) -> list[str]:
    """Visible strings that are English words of the `en` table, or bare string keys."""
    vi, en = strings(page, "vi"), strings(page, "en")
    english = {text for key, text in en.items() if text != vi[key] and len(text) > 2}
    patterns = [re.compile(rf"(?<!\w){re.escape(text)}(?!\w)") for text in english]
    keys = {key for key in vi if "_" in key}
    found = []
    for text in page.evaluate(VISIBLE_TEXT):
        found += [p.pattern for p in patterns if p.search(text)]
        found += [text for key in keys if key in text.split()]
    return found


def log_in(page: Page, base_url: str, username: str, path: str = "/") -> None:
    page.goto(f"{base_url}{path}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}{path}")


@pytest.mark.timeout(120)
def test_every_page_is_vietnamese(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/audit")
    expect(page.locator("#login-submit")).to_have_text("Đăng nhập")
    vi, en = strings(page, "vi"), strings(page, "en")
    assert set(vi) == set(en)
    assert english_leaks(page) == [], "login page"

    page.fill("#username", "admin")
    page.fill("#password", "wrong-password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text(vi["login_failed"])
    log_in(page, base_url, "admin", "/audit")  # back where the login page was asked from
    pages = {
        "/audit": "#audit tr",
        "/users": "#users tr",
        "/cameras": '.tile[data-camera-id="de-song"] .cam-state',
        "/cameras/cho-gom": "#alerts .alert",
        "/reanalysis": "#jobs .job",
        "/": "#alerts .alert",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    for path, content in pages.items():
        page.goto(f"{base_url}{path}")
        expect(page.locator(content).first).to_be_visible()
        if path == "/":
            page.locator("#alerts .alert .ack").first.click()  # the review dialog too
            expect(page.locator("#review-dialog")).to_be_visible()
        if path == "/cameras/cho-gom":  # the idle camera's decoding, in words
            expect(page.locator("#camera-decode")).to_have_text(vi["decode_keyframes_only"])
        if path == "/reanalysis":  # a failed job says why in Vietnamese, then the raw reason
            detail = page.locator("#jobs .job.state-failed .job-detail span")
            expect(detail).to_have_text(vi["ra_detail_no_recordings"])
            page.locator("#jobs .job.state-done .show").first.click()  # a job's findings too
            expect(page.locator("#findings .alert").first).to_be_visible()
        time.sleep(0.3)  # late parts (feed status, thumbnails) settle
        name = path.strip("/").replace("/", "-") or "alerts"
        page.screenshot(path=str(ARTIFACTS / f"vi-{name}.png"))
        assert english_leaks(page) == [], path


@pytest.mark.timeout(60)
def test_language_is_the_users_choice(page: Page, base_url: str) -> None:
    log_in(page, base_url, "viewer")
    expect(page.locator("#alerts .alert .class-name").first).to_have_text("Người")
    page.click("#lang-toggle")
    expect(page.locator("#alerts .alert .class-name").first).to_have_text("Person")
    expect(page.locator("#logout")).to_have_text("Log out")
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login$"))
    expect(page.locator("#login-submit")).to_have_text("Log in")  # this browser's last choice
    log_in(page, base_url, "viewer")
    expect(page.locator("#logout")).to_have_text("Log out")
    assert page.locator(".alert .ack").count() == 0  # a viewer gets no acknowledge button
