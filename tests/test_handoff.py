"""The frame hand-off: shared-memory ring, drop-oldest queue, the gate's verdict in the frame
handle, sampling and its bursts, decoding during bursts, backoff."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from collections.abc import Iterator

import av
import numpy as np
import pytest

from common.config import MotionConfig
from common.frame_ring import FrameRing, StaleSlotError
from common.messages import FrameRef
from ingest.backoff import Backoff
from ingest.camera_reader import DecodePolicy
from ingest.handoff import FrameHandoff
from ingest.motion import Reason, Verdict
from ingest.sampling import BurstSampler, FrameSampler, scaled_size
from ingest.source import CameraSource
from tests.paths import clips_dir

MOTION = Verdict(Reason.MOTION, 0.05, ((0.1, 0.2, 0.3, 0.4), (0.5, 0.5, 0.75, 1.0)))


def frame(value: int, height: int = 36, width: int = 64) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


@pytest.fixture
def ring() -> Iterator[FrameRing]:
    created = FrameRing.create(f"test-{uuid.uuid4().hex[:8]}", 4, 48, 64)
    yield created
    created.close()


def test_reader_sees_what_the_writer_wrote(ring: FrameRing) -> None:
    slot, seq = ring.write(frame(7))
    reader = FrameRing.attach(ring.name)
    copy = reader.read(slot, seq, 36, 64)
    assert copy.shape == (36, 64, 3)
    assert (copy == 7).all()
    reader.close()


def test_overwritten_slot_is_detected(ring: FrameRing) -> None:
    slot, seq = ring.write(frame(1))
    for value in range(2, 6):
        ring.write(frame(value))
    with pytest.raises(StaleSlotError):
        ring.read(slot, seq, 36, 64)


def test_too_large_frame_is_refused(ring: FrameRing) -> None:
    with pytest.raises(ValueError, match="exceeds"):
        ring.write(frame(1, height=100))


def test_full_queue_drops_the_oldest(ring: FrameRing) -> None:
    frames: mp.Queue[FrameRef] = mp.get_context("spawn").Queue(maxsize=2)
    handoff = FrameHandoff(ring, frames)
    for index in range(3):
        handoff.offer("cam", frame(index), float(index), 100.0 + index, MOTION)
    kept = [frames.get(timeout=2).pts for _ in range(2)]
    assert kept == [1.0, 2.0]
    frames.close()
    frames.join_thread()


@pytest.mark.parametrize(
    "verdict", [MOTION, Verdict(Reason.HOLD, 0.0), Verdict(Reason.REFRESH, 0.0)]
)
def test_frame_handle_carries_why_and_where(ring: FrameRing, verdict: Verdict) -> None:
    frames: mp.Queue[FrameRef] = mp.get_context("spawn").Queue(maxsize=2)
    FrameHandoff(ring, frames).offer("cam", frame(1), 1.5, 101.5, verdict)
    ref = frames.get(timeout=2)
    assert (ref.look, ref.moved) == (verdict.reason.value, verdict.boxes)
    frames.close()
    frames.join_thread()


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
        policy = DecodePolicy(stream, source)
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
