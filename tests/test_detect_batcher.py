"""The dynamic batcher: fair turns between cameras, newest frame wins, stale frames dropped, the
load gauges, and a hand-off queue that ingest never finds full.

Frames travel as in production: pixels in a shared-memory ring, handles on a multiprocessing
queue, copied out by the batcher's drain thread.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from prometheus_client import REGISTRY

from common.frame_ring import FrameRing
from common.messages import FrameRef
from detect.batcher import Batcher
from detect.load import LoadMonitor
from detect.pending import PendingFrame, PendingFrames
from detect.scheduler import FairScheduler

CONTEXT = mp.get_context("spawn")


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


# --- pending frames and the load monitor ------------------------------------------------------


def ref(camera: str, seq: int, captured_at: float) -> FrameRef:
    return FrameRef(camera, "ring", 0, seq, 2, 2, 0.0, captured_at)


def test_the_newest_frame_of_a_camera_wins() -> None:
    pending = PendingFrames()
    image = np.zeros((2, 2, 3), np.uint8)
    assert pending.put(PendingFrame(ref("a", 1, 0.0), image)) is None
    older = pending.put(PendingFrame(ref("a", 2, 0.1), image))
    assert older is not None
    assert older.ref.seq == 1
    pending.put(PendingFrame(ref("b", 1, 0.0), image))
    assert (pending.offered, pending.superseded) == (3, 1)
    (taken,) = pending.take(["a"])
    assert taken.ref.seq == 2
    assert pending.cameras() == ["b"]


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


# --- the batcher, over a real ring and queue --------------------------------------------------


@pytest.fixture
def ring() -> Iterator[FrameRing]:
    ring = FrameRing.create(
        f"matthan-test-{time.monotonic_ns()}", slots=64, max_height=8, max_width=8
    )
    yield ring
    ring.close()


def offer(ring: FrameRing, frames: mp.queues.Queue[FrameRef], camera: str, value: int) -> None:
    """What ingest does: write the pixels, post the handle without ever blocking."""
    slot, seq = ring.write(np.full((8, 8, 3), value, np.uint8))
    frames.put_nowait(FrameRef(camera, ring.name, slot, seq, 8, 8, 0.0, time.time()))


def test_batches_are_fair_newest_first_and_never_block_ingest(ring: FrameRing) -> None:
    frames: mp.queues.Queue[FrameRef] = CONTEXT.Queue(maxsize=4)
    cameras = [f"cam-{i}" for i in range(6)]
    batcher = Batcher(
        frames, dict.fromkeys(cameras, 0), max_batch=4, max_wait_s=0.05, stale_after_s=5
    )
    batcher.start()
    try:
        # 30 frames through a queue of 4: the drain thread keeps it from ever filling.
        for value in range(30):
            offer(ring, frames, cameras[value % 6], value)
            time.sleep(0.005)
        time.sleep(0.3)
        first = batcher.next_batch()
        second = batcher.next_batch()
    finally:
        batcher.close()
        frames.cancel_join_thread()
    assert len(first) == 4
    assert len(second) == 2
    served = [frame.ref.camera_id for frame in first + second]
    assert sorted(served) == cameras  # one frame per camera, every camera served
    for frame in first + second:  # each camera's newest frame (values 24..29), pixels intact
        assert int(frame.image[0, 0, 0]) == 24 + cameras.index(frame.ref.camera_id)
    assert batcher.pending.superseded == 24
    assert metric("matthan_detector_frames_dropped_total", camera="cam-0", reason="superseded") >= 4


def test_stale_frames_are_dropped_and_counted(ring: FrameRing) -> None:
    frames: mp.queues.Queue[FrameRef] = CONTEXT.Queue(maxsize=4)
    batcher = Batcher(frames, {"old": 0}, max_batch=4, max_wait_s=0.0, stale_after_s=0.5)
    before = metric("matthan_detector_frames_dropped_total", camera="old", reason="stale")
    batcher.start()
    try:
        slot, seq = ring.write(np.zeros((8, 8, 3), np.uint8))
        frames.put_nowait(FrameRef("old", ring.name, slot, seq, 8, 8, 0.0, time.time() - 1.0))
        assert batcher.next_batch(idle_timeout_s=2.0) == []
    finally:
        batcher.close()
        frames.cancel_join_thread()
    assert (
        metric("matthan_detector_frames_dropped_total", camera="old", reason="stale") == before + 1
    )
    batcher.publish_load()
    assert metric("matthan_detector_queue_depth", stage="pending") == 0


def test_overload_lowers_every_camera_evenly_and_says_so(ring: FrameRing) -> None:
    """Six cameras offer 10 fps each; the "detector" takes 2 frames per 0.1 s (20 of 60 fps)."""
    frames: mp.queues.Queue[FrameRef] = CONTEXT.Queue(maxsize=64)
    cameras = [f"busy-{i}" for i in range(6)]
    batcher = Batcher(frames, dict.fromkeys(cameras, 0), max_batch=2, max_wait_s=0, stale_after_s=5)
    analysed: Counter[str] = Counter()
    batcher.start()
    try:
        for step in range(30):
            for camera in cameras:
                offer(ring, frames, camera, step)
            for frame in batcher.next_batch(idle_timeout_s=0.05):
                analysed[frame.ref.camera_id] += 1
            batcher.publish_load()
            time.sleep(0.1)
    finally:
        batcher.close()
        frames.cancel_join_thread()
    assert batcher.load.degraded
    assert metric("matthan_detector_degraded") == 1
    assert max(analysed.values()) - min(analysed.values()) <= 1  # an even share each
    rates = [metric("matthan_detector_effective_fps", camera=c) for c in cameras]
    assert min(rates) > 0
    assert max(rates) - min(rates) <= 0.15
