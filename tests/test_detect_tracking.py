"""Per-camera tracking (ByteTrack from the ``trackers`` package) at the 5 fps analysis rate."""

from __future__ import annotations

import numpy as np

from detect.detections import Detections
from detect.tracking import LOST_AFTER_S, CameraTracker

STEP = 0.2  # 5 fps


def boxes(*items: tuple[float, float, float]) -> Detections:
    """People 40x120 px with feet at (x, y), each with a score."""
    if not items:
        return Detections.empty()
    return Detections(
        xyxy=np.asarray([(x - 20, y - 120, x + 20, y) for x, y, _ in items], np.float32),
        confidence=np.asarray([score for _, _, score in items], np.float32),
        class_id=np.zeros(len(items), np.int32),
    )


def ids(tracked: Detections) -> list[int]:
    assert tracked.tracker_id is not None
    return tracked.tracker_id.tolist()


def test_two_walkers_keep_their_ids_from_the_second_frame_on() -> None:
    tracker = CameraTracker(fps=5.0, confidence=0.35)
    seen = []
    for i in range(10):
        left_to_right, right_to_left = (100 + 12 * i, 300, 0.9), (500 - 12 * i, 200, 0.8)
        tracked = tracker.update(boxes(left_to_right, right_to_left), t=i * STEP)
        seen.append(dict(zip(ids(tracked), tracked.xyxy[:, 0].tolist(), strict=True)))
    assert seen[0] == {}  # a track is confirmed on its second matched frame
    assert all(len(frame) == 2 for frame in seen[1:])
    assert {frozenset(frame) for frame in seen[1:]} == {frozenset({0, 1})}
    walker = {track for track, x in seen[1].items() if x < 300}.pop()
    assert all(frame[walker] < frame[1 - walker] for frame in seen[1:5])  # ids did not swap


def test_weak_boxes_keep_a_track_but_do_not_start_one() -> None:
    tracker = CameraTracker(fps=5.0, confidence=0.5)
    for i in range(3):
        tracker.update(boxes((100 + 5 * i, 300, 0.9)), t=i * STEP)
    occluded = tracker.update(boxes((115, 300, 0.2), (400, 300, 0.2)), t=3 * STEP)
    assert ids(occluded) == [0]  # the weak box near the track continues it; the other is no one
    assert occluded.xyxy[0, 0] == 95


def test_a_track_survives_a_short_gap_but_not_a_long_one() -> None:
    tracker = CameraTracker(fps=5.0, confidence=0.35)
    person = boxes((200, 300, 0.9))
    for i in range(3):
        tracker.update(person, t=i * STEP)
    t = 2 * STEP + LOST_AFTER_S - 1.0
    assert ids(tracker.update(person, t=t)) == [0]
    t += LOST_AFTER_S + 1.0
    tracker.update(person, t=t)
    assert ids(tracker.update(person, t=t + STEP)) == [1]  # a new track, a new id


def test_a_frame_out_of_order_changes_nothing() -> None:
    tracker = CameraTracker(fps=5.0, confidence=0.35)
    person = boxes((200, 300, 0.9))
    tracker.update(person, t=1.0)
    assert ids(tracker.update(person, t=1.2)) == [0]
    assert len(tracker.update(person, t=1.2)) == 0
    assert len(tracker.update(person, t=1.1)) == 0
    assert ids(tracker.update(person, t=1.4)) == [0]
    assert len(tracker.update(Detections.empty(), t=1.6)) == 0
