"""The frame hand-off: shared-memory ring, drop-oldest queue, sampling, backoff."""

from __future__ import annotations

import multiprocessing as mp
import uuid

import numpy as np
import pytest

from common.frame_ring import FrameRing, StaleSlotError
from common.messages import FrameRef
from ingest.backoff import Backoff
from ingest.handoff import FrameHandoff
from ingest.sampling import FrameSampler, scaled_size


def frame(value: int, height: int = 36, width: int = 64) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


@pytest.fixture
def ring() -> FrameRing:
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
        handoff.offer("cam", frame(index), pts=float(index), captured_at=100.0 + index)
    kept = [frames.get(timeout=2).pts for _ in range(2)]
    assert kept == [1.0, 2.0]
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
