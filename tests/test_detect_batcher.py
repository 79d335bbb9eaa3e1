"""The dynamic batcher: fair turns between cameras, newest frame wins, skipped frames counted
honestly (across a restart of the core too), stale frames dropped, the load gauges.

Frames travel as in production: each camera's newest in a shared-memory ring, copied out only
when the batcher takes it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from prometheus_client import REGISTRY

from common.frame_ring import FrameRing, RingPlan, bgr_to_i420
from detect.batcher import Batcher
from detect.frames import LatestFrames
from detect.load import LoadMonitor
from detect.scheduler import FairScheduler


def metric(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


# --- the scheduler ----------------------------------------------------------------------------


def test_overloaded_cameras_take_turns_and_none_starves() -> None:
    cameras = [f"cam-{i}" for i in range(10)]
    scheduler = FairScheduler(dict.fromkeys(cameras, 0))
    served: Counter[str] = Counter()
    for step in range(30):  # every camera always waiting, room for 3 per batch
        served.update(scheduler.choose(cameras, 3, now=float(step)))
    assert set(served.values()) == {9}


def test_priority_buys_a_proportional_share() -> None:
    scheduler = FairScheduler({"gate": 1, "yard": 0, "road": 0})
    served: Counter[str] = Counter()
    for step in range(400):
        served.update(scheduler.choose(["gate", "yard", "road"], 1, now=step * 0.1))
    assert served["gate"] == pytest.approx(2 * served["yard"], rel=0.1)
    assert served["yard"] == pytest.approx(served["road"], rel=0.1)


def test_a_new_camera_goes_first() -> None:
    scheduler = FairScheduler({"a": 5, "b": 0})
    assert scheduler.choose(["a"], 1, now=0.0) == ["a"]
    assert scheduler.choose(["a", "b"], 1, now=0.1) == ["b"]
    with pytest.raises(ValueError, match="batch size"):
        scheduler.choose(["a"], 0, now=1.0)


# --- the newest frames, straight from a real ring ---------------------------------------------


@pytest.fixture
def ring() -> Iterator[FrameRing]:
    cameras = ("a", "b", *(f"cam-{i}" for i in range(6)), *(f"busy-{i}" for i in range(6)), "old")
    ring = FrameRing.create(RingPlan(f"matthan-test-{time.monotonic_ns()}", cameras, 8, 8))
    yield ring
    ring.close()


def offer(ring: FrameRing, camera: str, value: int, age_s: float = 0.0) -> None:
    """What ingest does: publish the camera's newest frame, never waiting for anyone."""
    grey = bgr_to_i420(np.full((8, 8, 3), value, np.uint8))
    ring.write(ring.index(camera), grey, 0.0, time.time() - age_s)


def test_the_newest_frame_of_a_camera_wins_and_the_skipped_are_counted(ring: FrameRing) -> None:
    before = metric("matthan_detector_frames_dropped_total", camera="a", reason="superseded")
    down = metric("matthan_detector_frames_dropped_total", camera="a", reason="detector_down")
    offer(ring, "a", 1)  # published before this core looked: counted as detector_down
    frames = LatestFrames([ring.name])
    try:
        offer(ring, "a", 2)
        offer(ring, "b", 1)
        assert sorted(frames.poll()) == ["a", "b"]
        (taken,) = frames.newest(["a"])
        assert taken.seq == 2
        assert frames.poll() == ["b"]
        for value in (3, 4, 5):
            offer(ring, "a", value)
        (taken,) = frames.newest(["a"])
        image = frames.copy(taken)
        assert image is not None
        assert abs(int(image[0, 0, 0]) - 5) <= 1
        assert (frames.offered, frames.superseded) == (5, 2)
    finally:
        frames.close()
    dropped = metric("matthan_detector_frames_dropped_total", camera="a", reason="superseded")
    assert dropped == before + 2
    lost = metric("matthan_detector_frames_dropped_total", camera="a", reason="detector_down")
    assert lost == down + 1


def test_a_restarted_core_counts_what_it_missed_as_detector_down(ring: FrameRing) -> None:
    first = LatestFrames([ring.name])
    offer(ring, "b", 1)
    assert [ref.seq for ref in first.newest(["b"])] == [1]
    first.close()  # the core dies; ingest goes on
    for value in range(2, 6):
        offer(ring, "b", value)
    before = metric("matthan_detector_frames_dropped_total", camera="b", reason="detector_down")
    second = LatestFrames([ring.name])
    try:
        assert second.poll() == ["b"]
        assert [ref.seq for ref in second.newest(["b"])] == [5]
    finally:
        second.close()
    after = metric("matthan_detector_frames_dropped_total", camera="b", reason="detector_down")
    assert after == before + 3


def test_a_ring_made_after_the_core_started_is_found() -> None:
    name = f"matthan-test-late-{time.monotonic_ns()}"
    frames = LatestFrames([name])
    try:
        assert frames.wait_for(1, 0.05) == []
        ring = FrameRing.create(RingPlan(name, ("late",), 8, 8))
        try:
            offer(ring, "late", 1)
            assert frames.wait_for(1, 2.0) == ["late"]
        finally:
            frames.close()
            ring.close()
    finally:
        frames.close()


def test_degraded_flag_has_hysteresis_and_fps_is_per_camera() -> None:
    load = LoadMonitor(["a", "b"])
    for i in range(50):
        load.analysed("a", 100.0 + i * 0.2)
    load.publish(100.0, offered=0, superseded=0)
    load.publish(110.0, offered=100, superseded=20)  # 20% lost: degraded
    assert load.degraded
    assert metric("matthan_detector_degraded") == 1
    assert metric("matthan_detector_effective_fps", camera="a") == pytest.approx(5.0)
    assert metric("matthan_detector_effective_fps", camera="b") == 0
    load.publish(120.0, offered=200, superseded=25)  # 5% lost: above the 2% to leave
    assert load.degraded
    load.publish(130.0, offered=300, superseded=26)  # 1% lost: recovered
    assert not load.degraded
    assert metric("matthan_detector_degraded") == 0


# --- the batcher, over a real ring -----------------------------------------------------------


def test_batches_are_fair_and_newest_first(ring: FrameRing) -> None:
    cameras = [f"cam-{i}" for i in range(6)]
    batcher = Batcher(
        [ring.name], dict.fromkeys(cameras, 0), max_batch=4, max_wait_s=0.05, stale_after_s=5
    )
    try:
        batcher.frames.poll()
        for value in range(30):
            offer(ring, cameras[value % 6], value)
            time.sleep(0.005)
        first = batcher.next_batch()
        second = batcher.next_batch()
    finally:
        batcher.close()
    assert len(first) == 4
    assert len(second) == 2
    served = [frame.ref.camera_id for frame in first + second]
    assert sorted(served) == cameras  # one frame per camera, every camera served
    for frame in first + second:  # each camera's newest frame (values 24..29), pixels intact
        assert abs(int(frame.image[0, 0, 0]) - 24 - cameras.index(frame.ref.camera_id)) <= 1
    assert batcher.frames.superseded == 24
    assert metric("matthan_detector_frames_dropped_total", camera="cam-0", reason="superseded") >= 4


def test_stale_frames_are_dropped_and_counted(ring: FrameRing) -> None:
    batcher = Batcher([ring.name], {"old": 0}, max_batch=4, max_wait_s=0.0, stale_after_s=0.5)
    before = metric("matthan_detector_frames_dropped_total", camera="old", reason="stale")
    try:
        offer(ring, "old", 1, age_s=1.0)
        assert batcher.next_batch(idle_timeout_s=2.0) == []
        assert batcher.frames.poll() == []  # taken (and dropped), not offered again
    finally:
        batcher.close()
    assert (
        metric("matthan_detector_frames_dropped_total", camera="old", reason="stale") == before + 1
    )
    batcher.publish_load()
    assert metric("matthan_detector_queue_depth", stage="pending") == 0


def test_overload_lowers_every_camera_evenly_and_says_so(ring: FrameRing) -> None:
    """Six cameras offer 10 fps each; the "detector" takes 2 frames per 0.1 s (20 of 60 fps)."""
    cameras = [f"busy-{i}" for i in range(6)]
    batcher = Batcher(
        [ring.name], dict.fromkeys(cameras, 0), max_batch=2, max_wait_s=0, stale_after_s=5
    )
    analysed: Counter[str] = Counter()
    try:
        for step in range(30):
            for camera in cameras:
                offer(ring, camera, step)
            for frame in batcher.next_batch(idle_timeout_s=0.05):
                analysed[frame.ref.camera_id] += 1
            batcher.publish_load()
            time.sleep(0.1)
    finally:
        batcher.close()
    assert batcher.load.degraded
    assert metric("matthan_detector_degraded") == 1
    assert max(analysed.values()) - min(analysed.values()) <= 1  # an even share each
    rates = [metric("matthan_detector_effective_fps", camera=c) for c in cameras]
    assert min(rates) > 0
    assert max(rates) - min(rates) <= 0.15
