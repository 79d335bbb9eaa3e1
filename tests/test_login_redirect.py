"""After logging in, the login page goes to ``next`` only if it is a path on this site: in
real Chromium, since the browser's own URL parsing is what turned ``/%09/evil.com`` into
another site (it drops the tab, leaving ``//evil.com``).

Requests to any other host are aborted, so a test that fails shows where the page tried
to go without leaving the machine.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

from dashboard.app import create_app
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.dashboard_site import PASSWORD, fill_store, site_config

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard on a filled store, served by uvicorn in a thread."""
    database = tmp_path_factory.mktemp("redirect") / "site.db"
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page(base_url: str) -> Iterator[Page]:
    """A fresh browser whose requests to any other origin are aborted."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="vi-VN")
        elsewhere = re.compile(rf"^(?!{re.escape(base_url)}/)")
        context.route(elsewhere, lambda route: route.abort())
        yield context.new_page()
        browser.close()


def log_in_with_next(page: Page, base_url: str, next_query: str) -> str:
    """Log in on ``/login?next=...`` (the query as written); where the page went."""
    page.goto(f"{base_url}/login?next={next_query}")
    page.fill("#username", "viewer")
    page.fill("#password", PASSWORD)
    with page.expect_response(f"{base_url}/api/login"):
        page.click("#login-submit")
    page.wait_for_function("location.pathname !== '/login'", timeout=10_000)
    page.wait_for_load_state()
    return page.url


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "next_query",
    [
        "/%09/evil.com",
        "/%0a/evil.com",
        "/%0D/evil.com",
        "//evil.com",
        "%2F%2Fevil.com",
        "/%5Cevil.com",
        "/%5C/evil.com",
        "https://evil.com",
        "javascript:alert(1)",
    ],
)
def test_next_elsewhere_lands_on_the_alerts(page: Page, base_url: str, next_query: str) -> None:
    assert log_in_with_next(page, base_url, next_query) == f"{base_url}/"


@pytest.mark.timeout(60)
def test_next_on_this_site_is_followed(page: Page, base_url: str) -> None:
    landed = log_in_with_next(page, base_url, "%2Fcameras%3Farea%3Dx")
    assert landed == f"{base_url}/cameras?area=x"
