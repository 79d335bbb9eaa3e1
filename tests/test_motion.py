"""The motion gate on real clips: lights switching and an empty scene are not motion;
people walking, even in near darkness, are; a still scene is still refreshed."""

from __future__ import annotations

import av
import numpy as np
import pytest

from common.config import MotionConfig
from ingest.decode import FrameSampler, luma
from ingest.motion import MotionGate, Reason, Verdict, small_grey
from tests.paths import clips_dir


def verdicts(clip: str, config: MotionConfig | None = None) -> list[tuple[float, Verdict]]:
    """The gate's verdict on every frame sampled at 5 fps."""
    gate = MotionGate(config or MotionConfig())
    sampler = FrameSampler(5.0)
    out = []
    with av.open(str(clips_dir() / clip)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        for frame in container.decode(stream):
            assert frame.pts is not None
            t = float(frame.pts * stream.time_base)
            if sampler.due(t):
                out.append((t, gate.check(small_grey(luma(frame)), t)))
    return out


def motion_events(results: list[tuple[float, Verdict]]) -> int:
    """Runs of consecutive motion verdicts."""
    events, previous = 0, False
    for _, verdict in results:
        moving = verdict.reason == Reason.MOTION
        events += moving and not previous
        previous = moving
    return events


@pytest.mark.parametrize(
    "clip", ["indoor_light_switching_no_motion.mp4", "empty_parking_lot_pingpong.mp4"]
)
def test_no_motion_where_nothing_moves(clip: str) -> None:
    results = verdicts(clip)
    assert motion_events(results) == 0
    sent = sum(verdict.send for _, verdict in results)
    assert sent / len(results) < 0.1


def test_light_switching_is_seen_as_light() -> None:
    reasons = [verdict.reason for _, verdict in verdicts("indoor_light_switching_no_motion.mp4")]
    assert reasons.count(Reason.LIGHT) > 2


@pytest.mark.parametrize(
    ("clip", "min_events"),
    [("indoor_walking_by.mp4", 1), ("indoor_lowlight_people.mp4", 2), ("pets09_s2l1_vtest.mp4", 1)],
)
def test_people_moving_are_motion(clip: str, min_events: int) -> None:
    results = verdicts(clip)
    assert motion_events(results) >= min_events
    assert sum(verdict.reason == Reason.MOTION for _, verdict in results) >= 10


def test_still_scene_is_refreshed_on_schedule() -> None:
    results = verdicts("empty_parking_lot_pingpong.mp4", MotionConfig(refresh_s=4.0))
    refreshed = [t for t, verdict in results if verdict.reason == Reason.REFRESH]
    gaps = np.diff(refreshed)
    assert len(refreshed) >= 4
    assert gaps.max() < 4.0 + 0.25


def test_mask_hides_motion() -> None:
    whole = MotionConfig(masks=[[(0, 0), (1, 0), (1, 1), (0, 1)]])
    results = verdicts("indoor_walking_by.mp4", whole)
    assert motion_events(results) == 0


def test_disabled_gate_sends_everything() -> None:
    results = verdicts("empty_parking_lot_pingpong.mp4", MotionConfig(enabled=False))
    assert all(verdict.send for _, verdict in results)
