"""Live view in real Chromium over real WebRTC: the camera's H.264 reaches the browser's
decoder unchanged (no encoder is ever created on the server), the viewer count is shared
per camera, and live view start and stop are in the audit log.

The dashboard app runs in this process (uvicorn in a thread) so that the test can look
inside aiortc's senders; the camera is the real farm serving the PETS clip (x264 High).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from common.accounts import Accounts, Role
from common.config import SiteConfig
from common.store import Store
from dashboard.app import create_app
from dashboard.state import DashboardState
from matthan.farm import CameraFarm, Mount
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port
from tests.page_waits import wait_for_promise
from tests.paths import clips_dir

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PASSWORD = "mật-khẩu-xem-trực-tiếp"


class InProcessDashboard:
    """The real app under uvicorn in a background thread."""

    def __init__(self, site: SiteConfig, database: Path) -> None:
        self.app = create_app(site, database)
        self.port = site.dashboard.port
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)

    @property
    def state(self) -> DashboardState:
        state: DashboardState = self.app.state.dashboard
        return state

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def dashboard(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[InProcessDashboard]:
    """``@pytest.mark.dashboard(key=value)`` adds settings to the site's ``dashboard``."""
    marker = request.node.get_closest_marker("dashboard")
    extra = marker.kwargs if marker is not None else {}
    with CameraFarm([Mount("pets", clips_dir() / "pets09_s2l1_vtest.mp4")]) as farm:
        site = SiteConfig.model_validate(
            {
                "site": {"name": "live test"},
                "dashboard": {"port": free_port(), "language": "vi", **extra},
                "cameras": [{"id": "cho-gom", "name": "Chợ Gốm", "detect_url": farm.url("pets")}],
            }
        )
        database = tmp_path / "live.db"
        store = Store(database)
        Accounts(store).add_user("trucban", PASSWORD, Role.VIEWER, actor="test")
        store.close()
        running = InProcessDashboard(site, database)
        yield running
        running.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1280, "height": 800})
        browser.close()


def senders_encoding(dashboard: InProcessDashboard) -> list[object]:
    """aiortc's H.264 codec contexts on the server: one would exist if a frame were encoded."""
    relay = dashboard.state.live
    contexts = []
    for upstream in relay._upstreams.values():  # the test looks inside on purpose
        for peer in upstream.viewers:
            for sender in peer.getSenders():
                encoder = getattr(sender, "_RTCRtpSender__encoder", None)
                contexts.append(getattr(encoder, "codec", None))
    return contexts


@pytest.mark.timeout(120)
def test_live_view_plays_passthrough_h264(dashboard: InProcessDashboard, page: Page) -> None:
    base = f"http://127.0.0.1:{dashboard.port}"
    page.goto(f"{base}/login")
    page.fill("#username", "trucban")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/cameras/cho-gom")
    expect(page.locator("#live-toggle")).to_have_text("Xem trực tiếp")
    page.click("#live-toggle")
    wait_for_promise(page, "() => window.matthan.live.framesDecoded().then(n => n > 20)", 30)
    expect(page.locator("#live-video")).to_be_visible()
    page.wait_for_function(
        "() => document.getElementById('live-video').videoWidth > 0", timeout=10_000
    )
    width = page.evaluate("document.getElementById('live-video').videoWidth")
    assert width == 768  # the camera's own picture size: nothing was scaled on the way
    assert dashboard.state.live.viewer_count == 1
    assert senders_encoding(dashboard) == [None]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-view.png"))

    page.click("#live-toggle")

    def actions() -> list[str]:
        rows = dashboard.state.store.read(
            "SELECT action FROM audit_log WHERE target = 'cho-gom' ORDER BY id"
        )
        return [row[0] for row in rows]

    deadline = time.monotonic() + 15
    while len(actions()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dashboard.state.live.viewer_count == 0
    assert actions() == ["live.start", "live.stop"]


@pytest.mark.timeout(120)
@pytest.mark.dashboard(live_peers_per_user=1)
def test_past_the_live_view_cap_the_page_says_why(
    dashboard: InProcessDashboard, page: Page
) -> None:
    """A second live view of the same user, past ``live_peers_per_user``, is refused (429)
    and the page says to close one, not a bare failure."""
    base = f"http://127.0.0.1:{dashboard.port}"
    page.goto(f"{base}/login")
    page.fill("#username", "trucban")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/cameras/cho-gom")
    page.click("#live-toggle")
    wait_for_promise(page, "() => window.matthan.live.framesDecoded().then(n => n > 5)", 30)
    with page.expect_popup() as opened:  # a second tab of the same login
        page.evaluate("window.open('/cameras/cho-gom')")
    second = opened.value  # a popup is handed over before it has loaded
    second.wait_for_selector("html[data-ready]")  # its buttons answer once its init ran
    second.click("#live-toggle")
    expect(second.locator("#live-status")).to_have_text(
        "Đang xem quá nhiều hình trực tiếp; hãy đóng bớt một cửa sổ rồi thử lại", timeout=20_000
    )
    assert dashboard.state.live.viewer_count == 1
