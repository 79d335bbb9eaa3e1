"""The current detections drawn over the live video.

End to end on real parts: the camera farm serves the PETS 2009 crossroads over RTSP,
``matthan run`` analyses it with the real model, and in Chromium a viewer starts live view on
the camera page: the tracked people arrive over the detections socket and are drawn on the
canvas over the video. A viewer of another area and a visitor without a session cannot open
that camera's socket.

The parts on their own: the core sends boxes only for a watched camera and drops (counted)
when the channel is full; the dashboard sets a camera's flag while a socket is open, moves the
core's frames to it, scopes it to the user's areas and closes it with 4401 when the session
ends.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect, sync_playwright
from prometheus_client import REGISTRY
from starlette.websockets import WebSocketDisconnect

from benchmarks.service_probe import token_header
from common.channel import Channel, DropPolicy
from common.messages import FrameDetections, FrameRef, TrackedBox
from common.watching import DetectionsChannel, WatchedCameras
from dashboard.app import create_app
from dashboard.sockets import SESSION_ENDED
from dashboard.state import DashboardState
from detect.detections import Detections
from detect.overlay import OverlayPublisher
from matthan.farm import CameraFarm, Mount
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Service, free_port
from tests.dashboard_site import copy_store, fill_store, login, site_config
from tests.page_waits import wait_for_promise
from tests.paths import clips_dir

CAMERAS = ["cho-gom", "bai-xe", "de-song"]
CLASS_NAMES = ("person", "bicycle", "car")


def tracked(*rows: tuple[float, float, float, float, int, float, int]) -> Detections:
    """Tracked detections from (x1, y1, x2, y2, class id, confidence, track id) rows."""
    return Detections(
        xyxy=np.asarray([row[:4] for row in rows], np.float32).reshape(-1, 4),
        class_id=np.asarray([row[4] for row in rows], np.int32),
        confidence=np.asarray([row[5] for row in rows], np.float32),
        tracker_id=np.asarray([row[6] for row in rows], np.int64),
    )


def frame_ref(camera_id: str) -> FrameRef:
    return FrameRef(camera_id, "ring", 0, 1, 360, 640, 1.0, 1_800_000_000.0)


def dropped() -> float:
    value = REGISTRY.get_sample_value("matthan_channel_dropped_total", {"channel": "overlay_boxes"})
    return value or 0.0


def boxes_channel(maxsize: int) -> Channel[FrameDetections]:
    return Channel.create(
        mp.get_context("spawn"), "overlay_boxes", maxsize, policy=DropPolicy.NEWEST
    )


# --- the detection core's side -------------------------------------------------------------


def test_the_core_sends_boxes_only_for_watched_cameras_and_drops_newest_when_full() -> None:
    channel = DetectionsChannel(boxes_channel(1), WatchedCameras.local(CAMERAS))
    publisher = OverlayPublisher(channel, CLASS_NAMES)
    person = tracked((10.04, 20, 110, 220.96, 0, 0.8712, 12), (300, 40, 420, 200, 2, 0.55, 3))

    publisher.publish(frame_ref("cho-gom"), person)
    assert channel.boxes.receive(timeout=0.3) is None  # nobody watches: nothing built or sent

    channel.watched.set("cho-gom", True)
    publisher.publish(frame_ref("cho-gom"), person)
    sent = channel.boxes.receive(timeout=5)
    assert sent == FrameDetections(
        "cho-gom",
        1_800_000_000.0,
        640,
        360,
        (
            TrackedBox(10.0, 20.0, 110.0, 221.0, "person", 12, 0.871),
            TrackedBox(300.0, 40.0, 420.0, 200.0, "car", 3, 0.55),
        ),
    )
    publisher.publish(frame_ref("bai-xe"), person)  # another camera, not watched
    publisher.publish(frame_ref("cho-gom"), tracked())  # a frame without objects is sent too
    before = dropped()
    publisher.publish(frame_ref("cho-gom"), person)  # the channel holds one: this one is dropped
    assert dropped() == before + 1
    assert channel.boxes.receive(timeout=5) == FrameDetections(
        "cho-gom", 1_800_000_000.0, 640, 360, ()
    )
    channel.boxes.close()


# --- the dashboard's side ------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("overlay") / "site.db"
    fill_store(path)
    return path


@pytest.fixture
def channel() -> Iterator[DetectionsChannel]:
    made = DetectionsChannel(
        boxes_channel(8), WatchedCameras.create(mp.get_context("spawn"), CAMERAS)
    )
    yield made
    made.boxes.close()


@pytest.fixture
def client(template: Path, tmp_path: Path, channel: DetectionsChannel) -> Iterator[TestClient]:
    app = create_app(site_config(), copy_store(template, tmp_path), overlay=channel)
    with TestClient(app) as test_client:
        yield test_client


def state_of(client: TestClient) -> DashboardState:
    state: DashboardState = client.app.state.dashboard  # type: ignore[attr-defined]
    return state


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.timeout(30)
def test_a_socket_watches_its_camera_and_gets_the_core_frames(
    client: TestClient, channel: DetectionsChannel
) -> None:
    login(client, "viewer")
    box = TrackedBox(10.0, 20.0, 110.0, 220.0, "person", 12, 0.87)
    with client.websocket_connect("/ws/cameras/cho-gom/detections") as socket:
        wait_until(lambda: channel.watched.is_watched("cho-gom"))
        assert not channel.watched.is_watched("de-song")
        channel.boxes.send(FrameDetections("de-song", 1.0, 640, 360, (box,)))  # not this one
        channel.boxes.send(FrameDetections("cho-gom", 2.0, 640, 360, (box,)))
        assert socket.receive_json() == {
            "camera_id": "cho-gom",
            "captured_at": 2.0,
            "width": 640,
            "height": 360,
            "boxes": [
                {
                    "x1": 10.0,
                    "y1": 20.0,
                    "x2": 110.0,
                    "y2": 220.0,
                    "class_name": "person",
                    "track_id": 12,
                    "confidence": 0.87,
                }
            ],
        }
        with client.websocket_connect("/ws/cameras/cho-gom/detections"):
            assert state_of(client).detections.sockets("cho-gom") == 2
        wait_until(lambda: state_of(client).detections.sockets("cho-gom") == 1)
        assert channel.watched.is_watched("cho-gom")  # the first socket still watches
    wait_until(lambda: not channel.watched.is_watched("cho-gom"))


def test_a_restarted_dashboard_clears_what_its_predecessor_left_watched(
    template: Path, tmp_path: Path, channel: DetectionsChannel
) -> None:
    channel.watched.set("bai-xe", True)
    with TestClient(create_app(site_config(), copy_store(template, tmp_path), overlay=channel)):
        assert not channel.watched.is_watched("bai-xe")


@pytest.mark.timeout(30)
def test_the_socket_is_scoped_to_the_users_areas_and_its_origin(
    client: TestClient, channel: DetectionsChannel
) -> None:
    def refused(path: str, **headers: str) -> bool:
        try:
            with client.websocket_connect(path, headers=headers):
                return False
        except WebSocketDisconnect:
            return True

    assert refused("/ws/cameras/cho-gom/detections")  # no session
    login(client, "dyke-viewer")
    assert refused("/ws/cameras/cho-gom/detections")  # a market camera: not the user's area
    assert refused("/ws/cameras/no-such-camera/detections")
    assert not refused("/ws/cameras/de-song/detections")  # the dyke camera is
    assert refused("/ws/cameras/de-song/detections", origin="http://evil.example")
    assert not any(channel.watched.is_watched(camera) for camera in CAMERAS)


@pytest.mark.timeout(30)
def test_the_socket_closes_with_4401_when_the_session_ends(client: TestClient) -> None:
    csrf = login(client, "viewer")
    with client.websocket_connect("/ws/cameras/cho-gom/detections") as socket:
        assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code in (
            200,
            204,
        )
        message = socket.receive()
    assert message == {"type": "websocket.close", "code": SESSION_ENDED, "reason": ""}


# --- end to end, in Chromium -------------------------------------------------------------

PASSWORD = "mật-khẩu-xem-khung-đối-tượng"
SITE = """\
site: {{name: "Công an xã Bát Tràng (khung đối tượng)"}}
storage: {{database: data/overlay.db}}
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
SOCKET = "/ws/cameras/nga-tu-cho-gom/detections"
OPENS = """(path) => new Promise((resolve) => {
  const socket = new WebSocket(`ws://${location.host}${path}`);
  socket.onopen = () => { socket.close(); resolve("open"); };
  socket.onclose = () => resolve("refused");
})"""
CANVAS_INKED = """() => {
  const canvas = document.getElementById("live-overlay");
  if (!canvas.width || !canvas.height) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked += 1;
  return inked > 200;
}"""


def add_user(service: Service, name: str, role: str, *areas: str) -> None:
    command = [sys.executable, "-m", "matthan.cli", "user", "add", "-c", str(service.config)]
    done = subprocess.run(
        [*command, name, "--role", role, *[arg for area in areas for arg in ("--area", area)]],
        env={**os.environ, "MATTHAN_PASSWORD": PASSWORD},
        cwd=service.config.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def metric(service: Service, name: str) -> float | None:
    request = urllib.request.Request(f"{service.base_url}/metrics", headers=token_header())
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


def log_in(page: Page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}/")


@pytest.fixture
def browser_pages() -> Iterator[Callable[[], Page]]:
    """New pages, each in a context of its own (its own cookies)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def new_page() -> Page:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
            return context.new_page()

        yield new_page
        browser.close()


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_live_view_draws_the_tracked_people_over_the_video(
    start_service: Callable[[str, int], Service], browser_pages: Callable[[], Page]
) -> None:
    with CameraFarm([Mount("pets", clips_dir() / "pets09_s2l1_vtest.mp4")]) as farm:
        port = free_port()
        service = start_service(SITE.format(port=port, url=farm.url("pets")), port)
        add_user(service, "trucban", "viewer", "Thôn Bát Tràng")
        add_user(service, "de-dieu", "viewer", "Đê sông Hồng")
        page = browser_pages()
        log_in(page, service.base_url, "trucban")
        page.goto(f"{service.base_url}/cameras/nga-tu-cho-gom")
        expect(page.locator("#live-toggle")).to_have_text("Xem trực tiếp")
        expect(page.locator(".overlay-toggle")).to_have_text("Hiện khung đối tượng")
        page.click("#live-toggle")
        wait_for_promise(page, "() => window.matthan.live.framesDecoded().then(n => n > 10)", 60)
        page.wait_for_function(
            "() => document.getElementById('live-video').videoWidth > 0", timeout=10_000
        )
        # The core sends the boxes of the camera now watched; the page draws them.
        handle = page.wait_for_function(
            """() => {
              const frame = window.matthan.overlay.frame;
              return frame && frame.boxes.length > 0 && window.matthan.overlay.boxesDrawn > 0
                ? frame : null;
            }""",
            timeout=60_000,
        )
        frame = handle.json_value()
        assert frame["camera_id"] == "nga-tu-cho-gom"
        assert (frame["width"], frame["height"]) == (640, 480)  # 768x576 analysed at 640
        person = frame["boxes"][0]
        assert person["class_name"] == "person"
        assert isinstance(person["track_id"], int)
        assert 0 <= person["x1"] < person["x2"] <= 640
        assert 0 <= person["y1"] < person["y2"] <= 480
        page.wait_for_function(CANVAS_INKED, timeout=10_000)
        expect(page.locator("#live-overlay")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live-overlay.png"))
        assert metric(service, "matthan_dashboard_detection_sockets") == 1

        # Turned off: the socket closes (the camera is no longer watched), the canvas goes.
        page.uncheck("#overlay-toggle")
        expect(page.locator("#live-overlay")).to_be_hidden()
        deadline = time.monotonic() + 10
        while metric(service, "matthan_dashboard_detection_sockets") != 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        page.click("#live-toggle")

        # Another area's viewer, and a visitor without a session, cannot open the socket.
        assert page.evaluate(OPENS, SOCKET) == "open"
        other = browser_pages()
        log_in(other, service.base_url, "de-dieu")
        assert other.evaluate(OPENS, SOCKET) == "refused"
        stranger = browser_pages()
        stranger.goto(f"{service.base_url}/login")
        assert stranger.evaluate(OPENS, SOCKET) == "refused"
        assert service.stop() == 0, service.log_text()[-3000:]
