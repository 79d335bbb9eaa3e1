"""The dashboard as an installable app, in real Chromium: the manifest every page links, the
service worker at scope ``/`` showing a pushed alert and opening its link, and the
notifications page in Vietnamese and English with no console error.

A real push service is out of reach offline, so ``pushManager.subscribe`` cannot succeed here
(the page must say so, not break); the test registers the subscription through the API as the
page would, and hands the service worker a push through Chromium's DevTools protocol
(``ServiceWorker.deliverPushMessage``), which is what the browser does with a push that came.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from common.store import Store
from dashboard.app import create_app
from dashboard.services.page_shell import PAGES, assembled
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.dashboard_site import PASSWORD, add_alert, fill_store, site_config
from tests.push_endpoint import Browser
from tests.test_dashboard_i18n import english_leaks


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_page_links_the_manifest(page: str) -> None:
    """Any page may be the one a phone adds to its home screen."""
    assert '<link rel="manifest" href="/static/manifest.webmanifest">' in assembled(page)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The dashboard on a filled store, served by uvicorn in a thread: its URL and store."""
    database = tmp_path_factory.mktemp("push-pages") / "site.db"
    fill_store(database, alerts_per_camera=1)
    port = free_port()
    config = uvicorn.Config(
        create_app(site_config(), database), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 20)
        yield f"http://127.0.0.1:{port}", database
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def context() -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        made = browser.new_context(viewport={"width": 1100, "height": 900}, locale="vi-VN")
        yield made
        browser.close()


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}/")
    expect(page.locator("#who")).to_be_visible()  # the page started: api() has the CSRF token


INCOGNITO_PUSH = "Chrome currently does not support the Push API in incognito mode"
"""Chromium's own console line when a page of an incognito profile (every Playwright context)
subscribes: the browser's, not the page's; a phone's browser is no incognito window."""


def watch_console(page: Page) -> list[str]:
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.text.startswith(INCOGNITO_PUSH):
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(f"{page.url}: {message.text}")

    page.on("console", note)
    return problems


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_the_dashboard_installs_and_shows_pushed_alerts(
    served: tuple[str, Path], context: BrowserContext
) -> None:
    base_url, database = served
    page = context.new_page()
    problems = watch_console(page)
    log_in(page, base_url, "viewer")

    # The manifest: linked from the page, valid, its icon there.
    href = page.get_attribute('link[rel="manifest"]', "href")
    assert href == "/static/manifest.webmanifest"
    manifest = json.loads(page.request.get(f"{base_url}{href}").text())
    assert manifest["name"] == "Mắt Thần"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
        "/",
        "/",
        "standalone",
    )
    (icon,) = manifest["icons"]
    assert icon["sizes"] == "any"
    assert page.request.get(f"{base_url}{icon['src']}").headers["content-type"] == "image/svg+xml"

    # The service worker, registered by every page, controls the whole dashboard.
    scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == f"{base_url}/"

    # A push, delivered as the browser delivers one, becomes a notification that opens the alert.
    context.grant_permissions(["notifications"], origin=base_url)
    store = Store(database)
    try:
        alert_id = add_alert(store, "cho-gom")
    finally:
        store.close()
    push = {
        "alert_id": alert_id,
        "camera_name": "Chợ Gốm",
        "rule": "nguoi-vao-cho",
        "severity": "warning",
        "at": time.time(),
        "at_text": "07/12/2026 21:30:00",
        "url": f"/?alert={alert_id}",
    }
    cdp = context.new_cdp_session(page)
    registrations: list[str] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(r["registrationId"] for r in event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 5
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base_url, "registrationId": registrations[0], "data": json.dumps(push)},
    )
    shown = page.evaluate(
        """async () => {
          const registration = await navigator.serviceWorker.ready;
          for (let i = 0; i < 100; i += 1) {
            const [first] = await registration.getNotifications();
            if (first) return { title: first.title, body: first.body, url: first.data.url };
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          return null;
        }"""
    )
    assert shown == {
        "title": "Chợ Gốm · nguoi-vao-cho",
        "body": "07/12/2026 21:30:00",
        "url": f"/?alert={alert_id}",
    }
    page.goto(f"{base_url}{shown['url']}")  # what the notification's tap opens
    expect(page.locator("#picture-dialog")).to_be_visible()
    expect(page.locator(f'#alerts [data-alert-id="{alert_id}"]')).to_have_class(
        "alert warning state-new linked"
    )

    assert problems == []


@pytest.mark.browser
@pytest.mark.timeout(60)
def test_the_notifications_page_in_vietnamese_and_english(
    served: tuple[str, Path], context: BrowserContext
) -> None:
    """This browser's state, the filters of a subscription, the devices; no English in the
    Vietnamese page and no console error."""
    base_url, _ = served
    page = context.new_page()
    problems = watch_console(page)
    context.grant_permissions(["notifications"], origin=base_url)  # as a user who allowed it
    log_in(page, base_url, "operator")
    subscription = Browser("phone").subscription("https://push.example.net/send")
    made = page.evaluate(
        "(subscription) => import('/static/lib/api.js').then(({ api }) =>"
        " api('/api/push/subscription', { method: 'PUT', body: { subscription } }))",
        subscription,
    )
    page.goto(f"{base_url}/notifications")
    row = page.locator(f'#push-devices tr[data-subscription-id="{made["id"]}"]')
    expect(row).to_contain_text("push.example.net")
    expect(page.locator("#push-cameras input")).to_have_count(3)
    row.locator("button.edit").click()
    page.select_option("#push-severity", "critical")
    page.check('#push-cameras input[value="cho-gom"]')
    page.check("#push-picture")
    page.click("#push-save")
    expect(page.locator("#toast")).to_have_text("Đã lưu lựa chọn.")
    mine = page.evaluate(
        "() => import('/static/lib/api.js').then(({ api }) => api('/api/push/subscriptions'))"
    )
    assert mine[0]["filters"] == {
        "cameras": ["cho-gom"],
        "kinds": [],
        "rules": [],
        "min_severity": "critical",
        "allow_picture": True,
    }
    # Turning push on cannot reach a push service offline: the page says so.
    page.click("#push-on")
    expect(page.locator("#toast")).to_have_text(
        "Không đăng ký được với dịch vụ thông báo (cần kết nối Internet)."
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "vi-notifications.png"), full_page=True)
    assert english_leaks(page) == []

    page.click("#lang-toggle")
    expect(page.locator("#this-browser h2")).to_have_text("This browser")
    expect(page.locator("nav a.active")).to_have_text("Notifications")
    page.screenshot(path=str(ARTIFACTS / "en-notifications.png"), full_page=True)
    page.click("#lang-toggle")  # back to Vietnamese for the next run on this store
    expect(page.locator("#this-browser h2")).to_have_text("Trình duyệt này")
    assert problems == []
