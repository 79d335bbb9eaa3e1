"""An idle camera is decoded keyframes only; a person walking in brings full decoding back at
once, and the person's alert is raised.

``matthan run`` watches the real "walking by" clip over RTSP: a dim room where nobody moves for
about 4.5 s, then a person walks across (the farm loops it). With ``idle_keyframes_only_after_s``
at 3 s the camera goes keyframes-only in the empty stretch (one decoded frame per 1 s GOP).
The test reads what ingest publishes straight from the shard's frame ring (as the detection
core does, without taking anything) and the decode-mode gauge from ``/metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from benchmarks.service_probe import by_label, scrape
from common import alert_rows
from common.frame_ring import FrameRing, StaleSlotError
from common.store import Store
from matthan.farm import CameraFarm, Mount
from matthan.rings import SHM_FOLDER
from tests.conftest import Service, free_port
from tests.paths import clips_dir

pytestmark = pytest.mark.e2e

SITE = """\
site: {{name: "Idle decoding test"}}
storage: {{database: data/test.db}}
dashboard: {{port: {port}}}
detector: {{mode: regions, region_size: 320}}
ingest: {{workers: 1, analysis_fps: 5}}
cameras:
  - id: phong
    name: "Phòng"
    detect_url: {url}
    motion: {{idle_keyframes_only_after_s: 3}}
    zones:
      - name: ca-phong
        points: [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    rules:
      - {{kind: intrusion, name: nguoi, zone: ca-phong, cooldown_s: 1}}
"""
GOP_S = 1.0
"""The clips have a keyframe every 25 frames, at 25 fps."""


@dataclass(frozen=True)
class Published:
    """One frame ingest published: when (wall clock), its stream time and why."""

    at: float
    pts: float
    look: str


@pytest.fixture(scope="module")
def farm() -> Iterator[CameraFarm]:
    with CameraFarm([Mount("walk", clips_dir() / "indoor_walking_by.mp4")]) as running:
        yield running


def the_ring(service: Service) -> FrameRing:
    """The supervisor's ring of shard 0 (the supervisor is the ``matthan run`` process)."""
    deadline = time.monotonic() + 30
    name = f"matthan-{service.process.pid}-0"
    while not (SHM_FOLDER / name).exists():
        assert time.monotonic() < deadline, service.log_text()[-3000:]
        time.sleep(0.1)
    return FrameRing.attach(name)


@pytest.mark.timeout(150)
def test_an_idle_camera_wakes_within_a_gop_and_alerts(
    farm: CameraFarm, start_service: Callable[[str, int], Service]
) -> None:
    port = free_port()
    service = start_service(SITE.format(port=port, url=farm.url("walk")), port)
    store = Store(service.config.parent / "data" / "test.db")
    ring = the_ring(service)
    published: list[Published] = []
    modes: list[tuple[float, float]] = []
    """(wall time, gauge): 1 while the camera is decoded keyframes only."""
    seen, next_scrape, deadline = 0, 0.0, time.monotonic() + 100
    person_at = None
    try:
        while time.monotonic() < deadline:
            latest = int(ring.latest()[0])
            if latest > seen:
                seen = latest
                try:
                    ref = ring.ref(0, latest)
                except StaleSlotError:
                    continue
                published.append(Published(ref.captured_at, ref.pts, ref.look))
            if time.monotonic() >= next_scrape:
                next_scrape = time.monotonic() + 0.2
                gauge = by_label(
                    scrape(service.base_url), "matthan_ingest_keyframes_only", "camera"
                )
                modes.append((time.time(), gauge.get("phong", 0.0)))
                went_idle = next((at for at, value in modes if value == 1), None)
                if went_idle is not None and person_at is None:
                    alerts = [a for a in alert_rows.alerts_after(store, 0) if a.kind == "intrusion"]
                    person_at = next(
                        (a.started_at for a in alerts if a.started_at > went_idle), None
                    )
                if person_at is not None and modes[-1][1] == 0:
                    break
            time.sleep(0.02)
    finally:
        ring.close()
        store.close()
    went_idle = next((at for at, value in modes if value == 1), None)
    assert went_idle is not None, f"never keyframes-only: {modes[-10:]}"
    woke = next(
        index
        for index, frame in enumerate(published)
        if frame.at > went_idle and frame.look == "motion"
    )
    motion, following = published[woke], published[woke + 1]
    # Keyframes only, the next judged frame would be a GOP later; full decoding is back at once.
    assert following.pts - motion.pts < GOP_S / 2, (motion, following)
    assert any(value == 0 for at, value in modes if at > motion.at), "back to full decoding"
    assert person_at is not None, "no person alert after the camera went idle"
    assert service.stop() == 0, service.log_text()[-3000:]
