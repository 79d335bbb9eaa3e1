"""A district hub over real NATS leaf nodes: a station's server joins the hub, its link is
cut and restored, and the hub shows every alert after, in the station's order.

Real parts: ``matthan hub`` as a process (its nats-server, its readers, its page), the
station's nats-server exactly as ``matthan run`` starts it (:func:`station_server`), the
nodes' publisher of the alert stream (:class:`AlertPublisher`), the hub's page in Chromium.
The one stand-in is the link itself (:class:`tests.tcp_cut.LinkCutter`), a TCP relay between
the station's leaf connection and the hub, since nothing else cuts a link on demand.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from common.alert_rows import NewAlert
from common.config_loader import parse_site
from common.messages import Severity
from dashboard.certificate import make_self_signed
from matthan.cluster.alert_stream import AlertPublisher
from matthan.cluster.client import NatsClient
from matthan.cluster.server import NatsServer, station_server
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.paths import REPO
from tests.tcp_cut import LinkCutter

SITE_TOKEN = "hub-test-site-token-0123456789"
HUB_TOKEN = "hub-test-hub-token-0123456789ab"
METRICS_TOKEN = "hub-scrape-token-0123456789"
PASSWORD = "Gia-Lam-district-Test-2026"
STATION = "battrang"
HUB = """\
hub:
  {{id: gialam, database: hub/hub.db, port: {port}, leaf_port: {leaf_port},
   leaf_advertise: "127.0.0.1:{link_port}", tls: {{cert: {cert}, key: {key}}}}}
dashboard: {{port: {http_port}{page_tls}}}
stations:
  - {{id: battrang, name: "Bát Tràng"}}
  - {{id: kieuky, name: "Kiêu Kỵ"}}
"""
STATION_SITE = """\
site: {{name: "Bát Tràng"}}
storage: {{database: {folder}/station.db}}
cluster:
  enabled: true
  site_id: battrang
  url: "nats://127.0.0.1:{port}"
  hub: {{url: "nats-leaf://127.0.0.1:{link_port}", ca: {ca}}}
cameras:
  - {{id: cong-lang, name: "Cổng làng", detect_url: "rtsp://127.0.0.1:1/none"}}
"""


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "MATTHAN_HUB_TOKEN": HUB_TOKEN,
        "MATTHAN_METRICS_TOKEN": METRICS_TOKEN,
        "MATTHAN_PASSWORD": PASSWORD,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
    }


def _picture(index: int) -> bytes:
    image = np.full((90, 160, 3), (40 + 15 * index, 90, 160), dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


def _alert(index: int) -> NewAlert:
    return NewAlert(
        camera_id="cong-lang",
        kind="intrusion",
        rule="fence",
        severity=Severity.CRITICAL if index % 2 else Severity.WARNING,
        started_at=1_800_000_000.0 + index,
        snapshot_jpeg=_picture(index),
        uid=f"node-a-{index}",
    )


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if check():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {what}")


class Hub:
    """``matthan hub`` as a process, with one logged-in HTTP session per user."""

    def __init__(self, folder: Path, *, page_tls: bool = False) -> None:
        """``page_tls``: the page over HTTPS too, with the leaf port's certificate."""
        self.http_port, self.leaf_port, self.link_port = free_port(), free_port(), free_port()
        self.config = folder / "hub.yaml"
        self.cert = folder / "hub-tls" / "cert.pem"  # the leaf port's, self-signed
        make_self_signed(self.cert, folder / "hub-tls" / "key.pem", ["127.0.0.1"])
        self.trust = ssl.create_default_context(cafile=str(self.cert))
        self.config.write_text(
            HUB.format(
                port=free_port(),
                leaf_port=self.leaf_port,
                link_port=self.link_port,
                http_port=self.http_port,
                cert=self.cert,
                key=folder / "hub-tls" / "key.pem",
                page_tls=(
                    f", tls: {{cert: {self.cert}, key: {folder / 'hub-tls' / 'key.pem'}}}"
                    if page_tls
                    else ""
                ),
            )
        )
        self.base = f"{'https' if page_tls else 'http'}://127.0.0.1:{self.http_port}"
        self.log = ARTIFACTS / "hub-test.log"
        for name, role, areas in (("quan", "admin", []), ("xem", "viewer", ["kieuky"])):
            area_args = [arg for area in areas for arg in ("--area", area)]
            subprocess.run(
                [sys.executable, "-m", "matthan.cli", "user", "add", "-c", str(self.config),
                 name, "--role", role, *area_args],
                check=True, cwd=folder, env=_env(), capture_output=True,
            )  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "matthan.cli", "hub", "-c", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
                env=_env(),
            )
        if page_tls:
            _wait(self._answers_over_https, 30, "the hub's page over HTTPS")
        else:
            wait_http(f"{self.base}/healthz", 30, self.process)

    def _answers_over_https(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-2000:]
        try:
            return httpx.get(f"{self.base}/healthz", verify=self.trust).status_code == 200
        except httpx.TransportError:
            return False

    def session(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.base, timeout=10, verify=self.trust)
        answer = client.post("/api/hub/login", json={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return client

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(tmp_path)
    yield running
    assert running.stop() == 0, running.log.read_text()[-3000:]


def _station(hub: Hub, folder: Path, link_port: int) -> NatsServer:
    """The station's server, joining with the token of its own that ``matthan hub-token``
    gives its administrator (never the hub token itself)."""
    given = subprocess.run(
        [sys.executable, "-m", "matthan.cli", "hub-token", "-c", str(hub.config),
         "--station", STATION],
        check=True, capture_output=True, text=True, env=_env(),
    )  # fmt: skip
    station_token = given.stdout.strip()
    assert len(station_token) == 64
    assert station_token != HUB_TOKEN
    os.environ["MATTHAN_SITE_TOKEN"] = SITE_TOKEN
    os.environ["MATTHAN_HUB_TOKEN"] = station_token
    text = STATION_SITE.format(folder=folder, port=free_port(), link_port=link_port, ca=hub.cert)
    return station_server(parse_site(text, folder / "station.yaml"))


def _overview(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/api/hub/overview")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _link(client: httpx.Client) -> dict[str, Any]:
    stations: list[dict[str, Any]] = _overview(client)["stations"]
    (station,) = [item for item in stations if item["id"] == STATION]
    return station


def test_a_station_link_cut_and_restored_reaches_the_hub_in_order(hub: Hub, tmp_path: Path) -> None:
    link = LinkCutter(hub.link_port, hub.leaf_port).start()
    server = _station(hub, tmp_path, link.listen_port).start()
    publisher_client = NatsClient.connect(server.url, SITE_TOKEN, name="node")
    admin = hub.session("quan")
    try:
        publisher = AlertPublisher(publisher_client, STATION)
        alerts = [_alert(index) for index in range(12)]
        for alert in alerts[:4]:
            publisher.opened(alert)
        _wait(lambda: len(_overview(admin)["alerts"]) == 4, 30, "the hub has the first 4 alerts")
        assert _link(admin)["link_up"]

        link.cut()
        _wait(lambda: not _link(admin)["link_up"], 15, "the hub sees the link down")
        # The station keeps working: its stream takes every event while the hub is away.
        for alert in alerts[4:]:
            publisher.opened(alert)
        for alert in alerts[:3]:
            assert alert.uid is not None
            publisher.ended(alert.camera_id, alert.kind, alert.uid, alert.started_at + 60)
        time.sleep(3.0)
        assert len(_overview(admin)["alerts"]) == 4

        link.restore()
        _wait(lambda: _link(admin)["link_up"], 30, "the hub sees the link back")
        _wait(
            lambda: sum(a["ended_at"] is not None for a in _overview(admin)["alerts"]) == 3,
            30,
            "the hub has every alert and every end",
        )
        shown = _overview(admin)["alerts"]
        assert len(shown) == len(alerts)
        # In the station's order: the hub's rows (ids) follow the order of the stream.
        by_id = sorted(shown, key=lambda alert: alert["id"])
        assert [a["started_at"] for a in by_id] == [a.started_at for a in alerts]
        assert {a["started_at"] for a in shown if a["ended_at"]} == {
            a.started_at for a in alerts[:3]
        }
        assert _link(admin)["open_alerts"] == len(alerts) - 3
        _wait(lambda: _link(admin)["lag"] == 0, 10, "the hub's lag back to 0")

        _scoped_and_scraped(hub, admin, by_id[0]["id"], alerts[0].snapshot_jpeg)
        _page(hub, len(alerts))
    finally:
        admin.close()
        publisher_client.close()
        server.stop()
        link.cut()


def _scoped_and_scraped(hub: Hub, admin: httpx.Client, first_id: int, picture: bytes) -> None:
    """A viewer of another station sees neither this one nor its alerts; nothing changes an
    alert; /metrics answers the scrape token and an admin only."""
    viewer = hub.session("xem")
    seen = _overview(viewer)
    first = f"/api/hub/stations/{STATION}/alerts/{first_id}/snapshot.jpg"
    assert admin.get(first).content == picture
    assert viewer.get(first).status_code == 404
    assert viewer.get("/metrics").status_code == 403  # the scrape token, or an admin
    viewer.close()
    assert [item["id"] for item in seen["stations"]] == ["kieuky"]
    assert seen["alerts"] == []
    assert not seen["stations"][0]["link_up"]  # a station that never joined
    # Read-only: the hub has no route that changes an alert.
    assert admin.post(f"/api/alerts/{first_id}/ack").status_code in (404, 405)
    assert httpx.get(f"{hub.base}/api/hub/overview").status_code == 401

    assert httpx.get(f"{hub.base}/metrics").status_code == 401
    assert admin.get("/metrics").status_code == 200
    scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    metrics = httpx.get(f"{hub.base}/metrics", headers=scrape).text
    assert 'matthan_hub_station_up{station="battrang"} 1.0' in metrics
    assert 'matthan_hub_station_up{station="kieuky"} 0.0' in metrics
    assert 'matthan_hub_stream_lag{station="battrang"} 0.0' in metrics


def _page(hub: Hub, alerts: int) -> None:
    """The hub's page in Chromium: log in, see the station linked and its alerts (vi)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error" and "Content Security Policy" in m.text
                    else None
                ),
            )
            page.goto(f"{hub.base}/hub")
            page.wait_for_selector("html[data-ready]")
            page.fill("input[name=username]", "quan")
            page.fill("input[name=password]", PASSWORD)
            page.click("form#login button[type=submit]")
            page.wait_for_selector(f'.station[data-station="{STATION}"][data-link="up"]')
            page.wait_for_function(
                f"document.querySelectorAll('#alerts tbody tr').length === {alerts}"
            )
            assert page.text_content("#overview h2 >> nth=0") == "Các trạm"
            assert page.inner_text(".station .link") == "đã kết nối"
            page.wait_for_function(
                "[...document.querySelectorAll('#alerts img.snapshot')]"
                ".every((img) => img.complete && img.naturalWidth === 160)"
            )
            kind = page.inner_text("#alerts tbody tr:first-child td:nth-child(4)")
            assert kind == "Xâm nhập vùng"
            page.screenshot(path=str(ARTIFACTS / "hub-page.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()


def test_the_hub_page_is_served_over_https_when_asked(tmp_path: Path) -> None:
    """With dashboard.tls the page is HTTPS only: the session cookie is Secure, answers carry
    HSTS, and the port speaks no plain HTTP."""
    hub = Hub(tmp_path, page_tls=True)
    try:
        admin = httpx.Client(base_url=hub.base, timeout=10, verify=hub.trust)
        login = admin.post("/api/hub/login", json={"username": "quan", "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert "; secure" in login.headers["set-cookie"].lower()
        answer = admin.get("/api/hub/overview")
        assert answer.status_code == 200
        assert answer.headers["strict-transport-security"].startswith("max-age=")
        admin.close()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{hub.http_port}/healthz", timeout=5)
    finally:
        assert hub.stop() == 0, hub.log.read_text()[-3000:]
