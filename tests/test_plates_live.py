"""Plates read live: real parking-lot photos served as an RTSP camera to ``matthan run``.

The camera's clip is made of the data set's photos where the motorbike ``75-H1 357.92`` stands
(:mod:`tests.plate_clip`), at 1920x1080, analysed at 640 and read on the recorded main stream
(``plates: {enabled: true, stream: record}``): the plate reader takes each chosen crop's
picture from the segment being recorded. An operator puts ``75-H1*`` on the watch list through
the API; the watch-list alert reaches a logged-in client on ``/ws/alerts``, and a search for
``75H1`` finds the read with its picture.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from benchmarks.service_probe import AlertListener, by_label, scrape
from dashboard.auth import CSRF_HEADER
from matthan.farm import CameraFarm, Mount
from matthan.farm.photo_clip import photo_clip
from tests.conftest import Service, free_port
from tests.paths import plates_dir

pytestmark = pytest.mark.e2e

SITE = """\
site: {{name: "Plates test"}}
storage: {{database: data/test.db}}
dashboard: {{port: {port}}}
ingest: {{workers: 1, analysis_fps: 5}}
recording: {{path: data/rec, segment_s: 30}}
cameras:
  - id: cong-bai-xe
    name: "Cổng bãi xe"
    detect_url: {url}
    plates: {{enabled: true, stream: record}}
"""
OPERATOR, PASSWORD = "trucban", "mật-khẩu-trực-ban-2026"
PLATE = "75-H1 357.92"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CameraFarm]:
    plates_dir()
    clip = photo_clip(tmp_path_factory.mktemp("plates") / "bai-xe.mp4")
    with CameraFarm([Mount("bai-xe", clip)]) as running:
        yield running


def logged_in(service: Service) -> httpx.Client:
    client = httpx.Client(base_url=service.base_url, timeout=10)
    response = client.post("/api/login", json={"username": OPERATOR, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers[CSRF_HEADER] = response.json()["csrf_token"]
    return client


def wait_for_watch_alert(
    listener: AlertListener, entry: str, timeout_s: float
) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for alert in list(listener.alerts.values()):
            if alert.get("kind") == "plate_watch" and alert.get("rule") == entry:
                return alert
        time.sleep(0.2)
    raise AssertionError(f"no watch-list alert for {entry}: {list(listener.alerts.values())}")


@pytest.mark.timeout(240)
def test_a_watch_listed_motorbike_is_read_alerted_and_found(
    farm: CameraFarm, start_service: Callable[[str, int], Service]
) -> None:
    port = free_port()
    service = start_service(SITE.format(port=port, url=farm.url("bai-xe")), port)
    service.add_user(OPERATOR, PASSWORD, role="operator")
    client = logged_in(service)
    try:
        check_the_plate_flow(service, client)
    finally:
        client.close()
    assert service.stop() == 0, service.log_text()[-3000:]


def check_the_plate_flow(service: Service, client: httpx.Client) -> None:
    added = client.post("/api/plates/watch", json={"pattern": "75-H1*", "note": "xe bị trộm"})
    assert added.status_code in (200, 201), added.text
    listener = AlertListener(service.base_url, OPERATOR, PASSWORD)
    listener.start()
    try:
        alert = wait_for_watch_alert(listener, "75-H1*", timeout_s=150)
    finally:
        listener.stop()
    assert alert["severity"] == "critical"
    assert alert["class_name"] == "motorcycle"
    assert alert.get("plate") == PLATE

    found = client.get("/api/plates", params={"q": "75H1"})
    assert found.status_code == 200, found.text
    reads = found.json()
    assert reads, "no read found by 75H1"
    assert all(read["plate"] == PLATE for read in reads), reads
    assert any(read["source"] == "record" for read in reads), reads
    watched = [read for read in reads if read["watch_entry"] == "75-H1*"]
    assert watched, reads
    assert watched[0]["alert_id"] == alert["id"], reads
    picture = client.get(watched[0]["crop_url"])
    assert picture.status_code == 200
    assert picture.content[:2] == b"\xff\xd8"
    nothing = client.get("/api/plates", params={"q": "29B1"})
    assert nothing.status_code == 200
    assert nothing.json() == []

    metrics = scrape(service.base_url)
    assert by_label(metrics, "matthan_plate_crops_total", "outcome").get("read", 0) >= 1
    assert by_label(metrics, "matthan_plate_watch_hits_total", "camera")["cong-bai-xe"] >= 1
