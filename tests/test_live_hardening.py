"""Live view against a hostile or broken LAN: bad offers, too many viewers, an unreachable
camera, and logins that end while a view is open.

Real parts: the dashboard app under uvicorn in a thread, the camera farm serving the PETS
clip over RTSP, and a real WebRTC client (aiortc) that offers H.264 like the page does and
connects to the answer. One fake, at the network boundary: :class:`SilentCamera`, a port
that accepts a TCP connection and never says a word, the unreachable camera no real camera
produces on demand. It also counts connections, so "the camera was not opened" is seen from
the camera's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from prometheus_client import REGISTRY

from common.accounts import Accounts, Role
from common.config import SiteConfig
from common.store import Store
from matthan.farm import CameraFarm, Mount
from tests.conftest import free_port
from tests.paths import clips_dir
from tests.test_live import InProcessDashboard

pytestmark = [pytest.mark.e2e]
PASSWORD = "mật-khẩu-xem-trực-tiếp"
USERS = {"trucban": Role.VIEWER, "phoban": Role.VIEWER, "quantri": Role.ADMIN}
GOOD, SILENT = "cho-gom", "bai-xe"


class SilentCamera:
    """A TCP port that accepts and never answers: an RTSP camera hung mid-handshake."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._server.close()
        for connection in self.accepted:
            connection.close()
        self._thread.join(5)


@pytest.fixture
def silent() -> Iterator[SilentCamera]:
    camera = SilentCamera()
    yield camera
    camera.close()


@pytest.fixture
def farm() -> Iterator[CameraFarm]:
    with CameraFarm([Mount("pets", clips_dir() / "pets09_s2l1_vtest.mp4")]) as running:
        yield running


@pytest.fixture
def dashboard(
    request: pytest.FixtureRequest, tmp_path: Path, silent: SilentCamera, farm: CameraFarm
) -> Iterator[InProcessDashboard]:
    """Two cameras of one area: the farm's (good) and the silent one; ``request.param`` may
    add ``dashboard`` settings."""
    overrides: dict[str, object] = getattr(request, "param", {})
    site = SiteConfig.model_validate(
        {
            "site": {"name": "live hardening"},
            "dashboard": {"port": free_port(), **overrides},
            "ingest": {"open_timeout_s": 2.0, "read_timeout_s": 2.0},
            "cameras": [
                {"id": GOOD, "name": "Chợ Gốm", "area": "Chợ", "detect_url": farm.url("pets")},
                {
                    "id": SILENT,
                    "name": "Bãi xe",
                    "area": "Chợ",
                    "detect_url": f"rtsp://127.0.0.1:{silent.port}/{SILENT}",
                },
            ],
        }
    )
    database = tmp_path / "live.db"
    store = Store(database)
    for name, role in USERS.items():
        Accounts(store).add_user(name, PASSWORD, role, actor="test")
    store.close()
    running = InProcessDashboard(site, database)
    yield running
    running.close()


class Browser:
    """One login over HTTP, and the WebRTC peers it opened (aiortc offering H.264 only)."""

    def __init__(self, dashboard: InProcessDashboard) -> None:
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{dashboard.port}", timeout=20)
        self.csrf = ""
        self.peers: list[RTCPeerConnection] = []

    async def login(self, username: str) -> Browser:
        response = await self.http.post(
            "/api/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]
        return self

    async def post(self, path: str, body: object = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf})

    async def offer(self) -> RTCPeerConnection:
        """A peer with its H.264 offer made and its ICE candidates gathered."""
        peer = RTCPeerConnection()
        self.peers.append(peer)
        transceiver = peer.addTransceiver("video", direction="recvonly")
        codecs = RTCRtpReceiver.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in codecs if c.mimeType == "video/H264"])
        await peer.setLocalDescription(await peer.createOffer())
        return peer

    async def send(self, camera_id: str, sdp: str) -> httpx.Response:
        return await self.post(f"/api/cameras/{camera_id}/webrtc", {"sdp": sdp, "type": "offer"})

    async def watch(self, camera_id: str) -> RTCPeerConnection:
        """Offer, apply the answer; returns the peer once it is connected."""
        peer = await self.offer()
        response = await self.send(camera_id, peer.localDescription.sdp)
        assert response.status_code == 200, response.text
        await peer.setRemoteDescription(RTCSessionDescription(**response.json()))
        await until(lambda: peer.connectionState == "connected", 20)
        return peer

    async def close(self) -> None:
        await asyncio.gather(*(peer.close() for peer in self.peers))
        await self.http.aclose()


async def until(condition: Callable[[], object], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def viewers_gauge(camera_id: str) -> float:
    value = REGISTRY.get_sample_value("matthan_dashboard_webrtc_viewers", {"camera": camera_id})
    return value or 0.0


def without(sdp: str, pattern: str) -> str:
    return "".join(line for line in sdp.splitlines(True) if not re.match(pattern, line))


@pytest.mark.timeout(120)
def test_bad_h264_offers_are_refused_before_anything_is_opened(
    dashboard: InProcessDashboard, silent: SilentCamera
) -> None:
    async def scenario() -> None:
        viewer = await Browser(dashboard).login("trucban")
        try:
            sdp = (await viewer.offer()).localDescription.sdp
            assert "H264/90000" in sdp
            assert "a=candidate" in sdp
            bad = {
                "no ICE ufrag": without(sdp, "a=ice-ufrag"),
                "no ICE candidates": without(sdp, "a=(candidate|end-of-candidates)"),
                "a huge SDP": sdp + "a=x-filler:" + "x" * 70_000 + "\r\n",
            }
            for case, offer in bad.items():
                for camera_id in (GOOD, SILENT):
                    response = await viewer.send(camera_id, offer)
                    assert response.status_code == 422, (case, camera_id, response.text)
                    assert dashboard.state.live.viewer_count == 0, case
                    assert dashboard.state.live.upstream_count == 0, case
                    assert viewers_gauge(camera_id) == 0, case
            assert not silent.accepted  # the camera was never even dialled
            no_ufrag = (await viewer.send(GOOD, bad["no ICE ufrag"])).json()["detail"]
            assert "ICE ufrag" in no_ufrag
        finally:
            await viewer.close()

    asyncio.run(scenario())


@pytest.mark.timeout(120)
def test_live_views_per_user_are_capped(dashboard: InProcessDashboard) -> None:
    per_user = 4  # the default of dashboard.live_peers_per_user

    async def scenario() -> None:
        viewer = await Browser(dashboard).login("trucban")
        other = await Browser(dashboard).login("phoban")
        try:
            for _ in range(per_user):
                offer = await viewer.offer()
                assert (await viewer.send(GOOD, offer.localDescription.sdp)).status_code == 200
            refused = await viewer.send(GOOD, (await viewer.offer()).localDescription.sdp)
            assert refused.status_code == 429, refused.text
            assert f"{per_user} live views" in refused.json()["detail"]
            assert dashboard.state.live.viewer_count == per_user  # the refused one left nothing
            await other.watch(GOOD)  # another user still may
        finally:
            await asyncio.gather(viewer.close(), other.close())

    asyncio.run(scenario())
    assert dashboard.state.site.dashboard.live_peers_per_user == per_user


@pytest.mark.timeout(120)
@pytest.mark.parametrize("dashboard", [{"live_peers_per_site": 3}], indirect=True)
def test_live_views_per_site_are_capped(dashboard: InProcessDashboard) -> None:
    async def scenario() -> None:
        browsers = [await Browser(dashboard).login(name) for name in USERS]
        try:
            for browser in browsers:
                offer = await browser.offer()
                assert (await browser.send(GOOD, offer.localDescription.sdp)).status_code == 200
            late = browsers[0]
            refused = await late.send(GOOD, (await late.offer()).localDescription.sdp)
            assert refused.status_code == 429, refused.text
            assert "station" in refused.json()["detail"]
        finally:
            await asyncio.gather(*(browser.close() for browser in browsers))

    asyncio.run(scenario())


@pytest.mark.timeout(120)
def test_an_unreachable_camera_does_not_delay_live_view_of_another(
    dashboard: InProcessDashboard, silent: SilentCamera
) -> None:
    open_timeout_s = dashboard.state.site.ingest.open_timeout_s

    async def scenario() -> None:
        viewer = await Browser(dashboard).login("trucban")
        try:
            hung_offer = (await viewer.offer()).localDescription.sdp
            started = time.monotonic()
            hung = asyncio.create_task(viewer.send(SILENT, hung_offer))
            await until(lambda: silent.accepted, 10)  # the dashboard is dialling it now
            good_started = time.monotonic()
            await viewer.watch(GOOD)
            good_s = time.monotonic() - good_started
            assert not hung.done()
            assert good_s < 5, f"live view of the good camera took {good_s:.1f} s"
            response = await hung
            hung_s = time.monotonic() - started
            assert response.status_code == 502, response.text
            assert hung_s < open_timeout_s + 5, f"the silent camera held the offer {hung_s:.1f} s"
            assert dashboard.state.live.viewer_count == 1
            assert viewers_gauge(SILENT) == 0
        finally:
            await viewer.close()

    asyncio.run(scenario())


@pytest.mark.timeout(120)
def test_ended_logins_close_their_live_views(dashboard: InProcessDashboard) -> None:
    """Log out elsewhere, log out, and an admin's change of the user each close exactly the
    views of the logins they end; the viewer's peer sees its connection end."""
    live = dashboard.state.live

    async def ended(peer: RTCPeerConnection) -> None:
        await until(lambda: peer.connectionState in ("closed", "failed"), 15)

    async def scenario() -> None:
        browsers = [Browser(dashboard) for _ in range(4)]
        desk, phone, again, admin = browsers
        try:
            for browser, name in ((desk, "trucban"), (phone, "trucban"), (admin, "quantri")):
                await browser.login(name)
            at_desk, on_phone = await desk.watch(GOOD), await phone.watch(GOOD)
            assert live.viewer_count == 2

            assert (await desk.post("/api/logout-others")).status_code == 200
            assert live.viewer_count == 1
            await ended(on_phone)
            assert at_desk.connectionState == "connected"

            assert (await desk.post("/api/logout")).status_code == 204
            assert live.viewer_count == 0
            await ended(at_desk)

            await again.login("trucban")
            watching = await again.watch(GOOD)
            changed = await admin.http.patch(
                "/api/users/trucban", json={"disabled": True}, headers={"X-CSRF-Token": admin.csrf}
            )
            assert changed.status_code == 200, changed.text
            assert live.viewer_count == 0
            await ended(watching)
        finally:
            await asyncio.gather(*(browser.close() for browser in browsers))

    asyncio.run(scenario())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("dashboard", [{"live_connect_timeout_s": 1.0}], indirect=True)
def test_a_peer_that_never_connects_is_closed_and_the_camera_released(
    dashboard: InProcessDashboard,
) -> None:
    """A browser that offers and then goes away (the answer never applied) holds no peer
    and no camera connection past ``live_connect_timeout_s``."""
    live = dashboard.state.live

    async def scenario() -> None:
        viewer = await Browser(dashboard).login("trucban")
        try:
            offer = await viewer.offer()
            assert (await viewer.send(GOOD, offer.localDescription.sdp)).status_code == 200
            assert live.viewer_count == 1
            assert live.upstream_count == 1
            await until(lambda: live.viewer_count == 0, 10)
            assert live.upstream_count == 0
            assert viewers_gauge(GOOD) == 0
        finally:
            await viewer.close()

    asyncio.run(scenario())


@pytest.mark.timeout(120)
def test_a_camera_that_stalls_ends_its_live_views_and_can_be_watched_again(
    dashboard: InProcessDashboard, farm: CameraFarm
) -> None:
    """The farm freezes the camera (connection open, no more video): past the read timeout
    the stream is closed and so are its viewers' peers, instead of a view that stays
    "connected" to nothing; once the camera is back, a new start opens it again."""
    live = dashboard.state.live

    async def scenario() -> None:
        viewer = await Browser(dashboard).login("trucban")
        try:
            watching = await viewer.watch(GOOD)
            farm.stall_mount("pets")
            await until(lambda: watching.connectionState in ("closed", "failed"), 20)
            assert live.viewer_count == 0
            assert live.upstream_count == 0
            farm.resume_mount("pets")
            again = await viewer.watch(GOOD)
            assert again.connectionState == "connected"
        finally:
            await viewer.close()

    asyncio.run(scenario())
