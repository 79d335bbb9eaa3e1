"""Killing the detection core of a running ``matthan run``: the site says so, and recovers.

``kill -9`` on the detect process of a service watching the PETS crossroads over RTSP: the
supervisor raises a site-wide "analysis down" alert, restarts the core, ends the alert when the
new core's heartbeat arrives, and person alerts come again. Ingest keeps running throughout
(the camera never goes offline): nothing in it waits on analysis, so it goes on publishing
frames at its rate while no core runs, and the restarted core counts those it never saw as
``detector_down``.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from benchmarks.service_probe import by_label, scrape
from common import alert_rows
from common.alert_rows import AlertRecord
from common.store import Store
from matthan.farm import CameraFarm, Mount
from tests.conftest import Service, free_port
from tests.paths import clips_dir

pytestmark = pytest.mark.e2e

SITE = """\
site: {{name: "Failover test"}}
storage: {{database: data/test.db}}
dashboard: {{port: {port}}}
detector: {{max_batch: 4, max_wait_ms: 20, input_size: 320}}
ingest: {{workers: 1, analysis_fps: 5}}
cameras:
  - id: nga-tu
    name: "Ngã tư"
    detect_url: {url}
    zones:
      - name: quang-truong
        points: [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]
    rules:
      - {{kind: intrusion, name: nguoi, zone: quang-truong, cooldown_s: 1}}
"""


@pytest.fixture(scope="module")
def farm() -> Iterator[CameraFarm]:
    with CameraFarm([Mount("pets", clips_dir() / "pets09_s2l1_vtest.mp4")]) as running:
        yield running


def wait_for(
    what: str, check: Callable[[], AlertRecord | None], timeout_s: float, service: Service
) -> AlertRecord:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.25)
    raise AssertionError(f"no {what} within {timeout_s} s; log:\n{service.log_text()[-3000:]}")


def detect_pid(service: Service) -> int:
    pids = re.findall(r"started detect \(pid (\d+)\)", service.log_text())
    assert pids, service.log_text()[-3000:]
    return int(pids[-1])


@pytest.mark.timeout(180)
def test_killed_detector_raises_analysis_down_then_recovers(
    farm: CameraFarm, start_service: Callable[[str, int], Service]
) -> None:
    port = free_port()
    service = start_service(SITE.format(port=port, url=farm.url("pets")), port)
    store = Store(service.config.parent / "data" / "test.db")

    def newest(kind: str, after: int = 0, ended: bool = False) -> AlertRecord | None:
        alerts = [a for a in alert_rows.alerts_after(store, after) if a.kind == kind]
        return next((a for a in alerts if a.ended_at is not None or not ended), None)

    first = wait_for("person alert", lambda: newest("intrusion"), 90, service)
    published = "matthan_ingest_frames_handed_off_total"
    before = by_label(scrape(service.base_url), published, "camera")["nga-tu"]
    os.kill(detect_pid(service), signal.SIGKILL)
    killed_at = time.monotonic()
    down = wait_for("analysis_down alert", lambda: newest("analysis_down", first.id), 10, service)
    assert down.camera_id == "*"
    assert down.severity == "critical"
    assert alert_rows.snapshot(store, down.id)  # the placeholder picture

    ended = wait_for(
        "end of analysis_down", lambda: newest("analysis_down", first.id, ended=True), 60, service
    )
    assert ended.id == down.id
    samples = scrape(service.base_url)
    rate = (by_label(samples, published, "camera")["nga-tu"] - before) / (
        time.monotonic() - killed_at
    )
    assert rate >= 0.6 * 5, f"ingest published {rate:.1f} fps while analysis was down"
    dropped = by_label(samples, "matthan_detector_frames_dropped_total", "reason")
    assert dropped.get("detector_down", 0) > 0, dropped
    assert ended.ended_at is not None
    assert ended.ended_at > ended.started_at
    again = wait_for(
        "person alert after restart", lambda: newest("intrusion", down.id), 60, service
    )
    assert again.class_name == "person"
    assert "exited with -9" in service.log_text()
    store.close()
    assert service.stop() == 0, service.log_text()[-3000:]
