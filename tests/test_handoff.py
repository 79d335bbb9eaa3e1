"""The frame hand-off: each camera's newest frame in a shared-memory ring, the gate's verdict
in the frame handle, sampling and its bursts, decoding during bursts, backoff."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import av
import numpy as np
import pytest

from common.config import MotionConfig
from common.frame_ring import FrameRing, RingPlan, StaleSlotError, bgr_to_i420
from ingest.backoff import Backoff
from ingest.decode import BurstSampler, DecodePolicy, FrameSampler, scaled_size
from ingest.handoff import FrameHandoff
from ingest.motion import Reason, Verdict
from ingest.source import CameraSource
from tests.paths import clips_dir

MOTION = Verdict(Reason.MOTION, 0.05, ((0.1, 0.2, 0.3, 0.4), (0.5, 0.5, 0.75, 1.0)))


def frame(value: int, height: int = 36, width: int = 64) -> np.ndarray:
    """A grey I420 picture of ``value``, as ingest publishes them."""
    return bgr_to_i420(np.full((height, width, 3), value, dtype=np.uint8))


def grey_of(bgr: np.ndarray) -> int:
    """The grey level of a uniform BGR picture (the I420 round trip is off by at most 1)."""
    assert int(bgr.max()) - int(bgr.min()) <= 1
    return round(float(bgr.mean()))


@pytest.fixture
def ring() -> Iterator[FrameRing]:
    plan = RingPlan(f"test-{uuid.uuid4().hex[:8]}", ("cam", "other"), 48, 64)
    created = FrameRing.create(plan)
    yield created
    created.close()


def test_reader_sees_the_newest_frame_the_writer_published(ring: FrameRing) -> None:
    for value in (1, 2, 3):
        seq = ring.write(0, frame(value), float(value), 100.0 + value)
    reader = FrameRing.attach(ring.name)
    try:
        assert reader.cameras == ("cam", "other")
        assert reader.latest().tolist() == [3, 0]
        ref = reader.ref(0, seq)
        assert (ref.camera_id, ref.seq, ref.pts, ref.captured_at) == ("cam", 3, 3.0, 103.0)
        copy = reader.read(ref)
        assert copy.shape == (36, 64, 3)
        assert grey_of(copy) == 3
    finally:
        reader.close()


def test_a_slot_written_again_is_detected(ring: FrameRing) -> None:
    """Frame 1 shares its slot with frame 3: once 3 is written, a late reader of 1 is told."""
    ref = ring.ref(0, ring.write(0, frame(1), 1.0, 101.0))
    ring.write(0, frame(2), 2.0, 102.0)
    assert grey_of(ring.read(ref)) == 1  # frame 2 went to the other slot
    ring.write(0, frame(3), 3.0, 103.0)
    with pytest.raises(StaleSlotError):
        ring.read(ref)
    with pytest.raises(StaleSlotError):
        ring.ref(0, 1)


def test_cameras_do_not_share_slots(ring: FrameRing) -> None:
    ring.write(1, frame(9), 1.0, 101.0)
    for value in range(5):
        ring.write(0, frame(value), float(value), 100.0)
    assert grey_of(ring.read(ring.ref(1, 1))) == 9


def test_a_restarted_writer_goes_on_counting(ring: FrameRing) -> None:
    """A worker killed and restarted attaches to the same ring: numbers never go back, so the
    core never mistakes a new frame for one it took."""
    ring.write(0, frame(1), 1.0, 101.0)
    ring.mark_taken(0, 1)
    successor = FrameRing.attach(ring.name)
    try:
        assert successor.write(0, frame(2), 2.0, 102.0) == 2
        assert ring.taken().tolist() == [1, 0]
    finally:
        successor.close()


def test_too_large_or_not_i420_frame_is_refused(ring: FrameRing) -> None:
    with pytest.raises(ValueError, match="exceeds"):
        ring.write(0, frame(1, height=100), 0.0, 0.0)
    with pytest.raises(ValueError, match="not an I420 picture"):
        ring.write(0, np.zeros((36, 64, 3), np.uint8), 0.0, 0.0)


def test_not_a_ring_is_refused() -> None:
    from multiprocessing import shared_memory

    block = shared_memory.SharedMemory(name=f"test-{uuid.uuid4().hex[:8]}", create=True, size=64)
    try:
        with pytest.raises(ValueError, match="not a frame ring"):
            FrameRing.attach(block.name)
    finally:
        block.close()
        block.unlink()


@pytest.mark.parametrize(
    "verdict", [MOTION, Verdict(Reason.HOLD, 0.0), Verdict(Reason.REFRESH, 0.0)]
)
def test_frame_handle_carries_why_and_where(ring: FrameRing, verdict: Verdict) -> None:
    FrameHandoff(ring).offer("other", frame(1), 1.5, 101.5, verdict)
    ref = ring.ref(1, int(ring.latest()[1]))
    assert (ref.camera_id, ref.look, ref.moved) == ("other", verdict.reason.value, verdict.boxes)


def test_the_core_tells_ingest_of_moving_tracks(ring: FrameRing) -> None:
    handoff = FrameHandoff(ring)
    assert handoff.moving_track_seen("cam") == 0.0
    core_side = FrameRing.attach(ring.name)
    try:
        core_side.note_moving_track(0, 1_800_000_000.25)
    finally:
        core_side.close()
    assert handoff.moving_track_seen("cam") == pytest.approx(1_800_000_000.25)
    assert handoff.moving_track_seen("other") == 0.0


def test_sampler_halves_a_10fps_stream() -> None:
    sampler = FrameSampler(5.0)
    chosen = [n for n in range(20) if sampler.due(n * 0.1)]
    assert chosen == list(range(0, 20, 2))


def test_sampler_restarts_after_a_jump_back() -> None:
    sampler = FrameSampler(5.0)
    assert [sampler.due(t) for t in (10.0, 10.1, 10.2)] == [True, False, True]
    assert sampler.due(0.0)
    assert not sampler.due(0.1)


def test_burst_samples_every_frame_for_burst_s_then_every_second() -> None:
    """A 10 fps stream analysed at 5 fps; motion starts on frame 10: frames 10 to 29 (2 s)
    are all sampled, then every second frame again."""
    sampler = BurstSampler(5.0, 10.0, 2.0)
    chosen = []
    for n in range(50):
        if sampler.due(n / 10):
            chosen.append(n)
            if n == 10:
                sampler.burst(n / 10)
    assert chosen == [0, 2, 4, 6, 8, *range(10, 30), *range(30, 50, 2)]


def test_burst_during_a_burst_extends_it() -> None:
    sampler = BurstSampler(5.0, 10.0, 1.0)
    sampler.burst(0.0)
    sampler.burst(0.5)
    assert [sampler.bursting(n / 10) for n in (0, 14, 15)] == [True, True, False]


def test_burst_never_exceeds_the_decoded_rate() -> None:
    """Asked for 25 fps on a 10 fps stream, a burst takes every frame, each once."""
    sampler = BurstSampler(5.0, 25.0, 2.0)
    sampler.burst(0.0)
    assert [n for n in range(30) if sampler.due(n / 10)] == [*range(1, 20), *range(20, 30, 2)]


@pytest.mark.parametrize(("burst_fps", "burst_s"), [(10.0, 0.0), (5.0, 2.0), (2.0, 2.0)])
def test_no_burst_when_off_or_not_faster(burst_fps: float, burst_s: float) -> None:
    sampler = BurstSampler(5.0, burst_fps, burst_s)
    sampler.burst(0.0)
    assert not sampler.bursting(0.0)
    assert [n for n in range(1, 10) if sampler.due(n / 10)] == [1, 3, 5, 7, 9]


def test_a_jump_back_in_time_ends_the_burst() -> None:
    sampler = BurstSampler(5.0, 10.0, 2.0)
    sampler.burst(60.0)
    assert sampler.bursting(61.0)
    assert not sampler.bursting(0.1)  # the source looped


def test_decoding_skips_nothing_during_a_burst() -> None:
    """A 25 fps stream analysed at 5 fps skips unreferenced frames, except during a burst;
    idle, it decodes keyframes only until motion (and its burst) comes."""
    motion = MotionConfig(idle_keyframes_only_after_s=30.0)
    source = CameraSource("cam", "rtsp://127.0.0.1/cam", None, 5.0, 640, 5.0, 5.0, motion)
    with av.open(str(clips_dir() / "indoor_lowlight_people.mp4")) as container:
        stream = container.streams.video[0]
        changes: list[bool] = []
        policy = DecodePolicy(stream, source, changes.append)
        steps = [(0.0, False), (0.0, True), (0.0, False), (40.0, False), (0.0, True)]
        seen = []
        for idle_s, bursting in steps:
            policy.update(idle_s, bursting=bursting)
            seen.append((stream.codec_context.skip_frame, policy.keyframes_only))
    assert seen == [
        ("NONREF", False),
        ("DEFAULT", False),
        ("NONREF", False),
        ("NONKEY", True),
        ("DEFAULT", False),
    ]
    assert changes == [False, True, False]  # full at the start, then each change (camera page)


def test_scaled_size_keeps_the_long_side_within_bounds() -> None:
    assert scaled_size(1920, 1080, 640) == (640, 360)
    assert scaled_size(480, 640, 640) == (480, 640)
    assert scaled_size(320, 240, 640) == (320, 240)


def test_backoff_grows_with_jitter_and_caps() -> None:
    backoff = Backoff(initial_s=1.0, cap_s=8.0)
    delays = [backoff.next() for _ in range(6)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(4.0 <= delay <= 8.0 for delay in delays[3:])
    backoff.reset()
    assert backoff.next() <= 1.0
