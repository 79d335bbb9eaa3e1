"""Every rule kind on scripted track sequences: zones, lines, dwell, crowds, cooldown, schedules.

A scripted frame is a list of ``(track id, x1, y1, x2, y2, class)`` boxes on a 640x480 picture;
the rule sees the feet (bottom centre) of each box. Times are seconds after noon in Hanoi.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from common.coco import COCO_CLASSES
from common.config import CameraConfig
from detect.detections import Detections
from detect.rules import GONE_AFTER_S, CameraRules, Phase, RuleEvent

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
W, H = 640, 480
NOON = dt.datetime(2026, 11, 25, 12, 0, tzinfo=HANOI).timestamp()
LEFT_HALF = {"name": "left", "points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
# Drawn downwards, so its left side (seen from the first point to the second) is the
# right half of the picture: walking rightwards across it is "in".
MIDDLE_LINE = {"name": "mid", "points": [[0.5, 0.1], [0.5, 0.9]], "in_side": "left"}

Box = tuple[int, float, float, float, float, str]


def camera(**rule: object) -> CameraConfig:
    """A camera with the left-half zone, a vertical line down the middle, and one rule."""
    rule = {"name": "r", **rule}
    if rule["kind"] != "line_crossing":
        rule.setdefault("zone", "left")
    return CameraConfig.model_validate(
        {
            "id": "cam",
            "name": "Cam",
            "detect_url": "rtsp://127.0.0.1/cam",
            "zones": [LEFT_HALF],
            "lines": [MIDDLE_LINE],
            "rules": [rule],
        }
    )


def rules_for(**rule: object) -> CameraRules:
    return CameraRules(camera(**rule), COCO_CLASSES, HANOI)


def tracked(*boxes: Box) -> Detections:
    if not boxes:
        return Detections.empty().with_tracker_ids(np.empty(0, np.int64))
    return Detections(
        xyxy=np.asarray([box[1:5] for box in boxes], np.float32),
        confidence=np.full(len(boxes), 0.8, np.float32),
        class_id=np.asarray([COCO_CLASSES.index(box[5]) for box in boxes], np.int32),
        tracker_id=np.asarray([box[0] for box in boxes], np.int64),
    )


def person(track: int, x: float, y: float = 300) -> Box:
    """A 40x120 person whose feet stand at (x, y)."""
    return (track, x - 20, y - 120, x + 20, y, "person")


def run(rules: CameraRules, frames: list[tuple[float, list[Box]]]) -> list[RuleEvent]:
    events: list[RuleEvent] = []
    for t, boxes in frames:
        events += rules.evaluate(tracked(*boxes), W, H, NOON + t)
    return events


def summary(events: list[RuleEvent]) -> list[tuple[str, int | None, float]]:
    """(phase, track, seconds after noon) of each event."""
    return [(event.phase.value, event.track_id, round(event.at - NOON, 3)) for event in events]


def every(step: float, until: float, boxes: list[Box]) -> list[tuple[float, list[Box]]]:
    """The same boxes at 0, step, 2*step, ... up to and including ``until``."""
    return [(i * step, boxes) for i in range(round(until / step) + 1)]


# --- intrusion --------------------------------------------------------------------------------


def test_intrusion_fires_once_per_track_for_matching_class_inside() -> None:
    rules = rules_for(kind="intrusion", classes=["person"], cooldown_s=0)
    car_inside = (7, 50, 200, 250, 320, "car")
    frames = every(0.2, 2.0, [person(1, 100), person(2, 500), car_inside])
    events = run(rules, frames)
    assert summary(events) == [("start", 1, 0.0)]
    (start,) = events
    assert start.rows == (0,)
    assert start.since == NOON
    assert start.outline == ((0, 0), (320, 0), (320, 480), (0, 480))


def test_intrusion_min_presence_waits_for_a_steady_track() -> None:
    rules = rules_for(kind="intrusion", min_presence_s=1.0)
    assert summary(run(rules, every(0.2, 2.0, [person(1, 100)]))) == [("start", 1, 1.0)]


def test_intrusion_alert_ends_when_the_track_leaves_the_zone() -> None:
    rules = rules_for(kind="intrusion")
    inside = every(0.5, 2.0, [person(1, 100)])
    outside = [(2.5 + i * 0.5, [person(1, 500)]) for i in range(9)]
    events = run(rules, inside + outside)
    # Ended at its last moment inside, once it has been away for GONE_AFTER_S.
    assert summary(events) == [("start", 1, 0.0), ("end", 1, 2.0)]


def test_a_short_absence_does_not_split_a_stay() -> None:
    rules = rules_for(kind="intrusion", min_presence_s=2.0)
    frames = [(0.0, [person(1, 100)]), (1.0, []), (2.0, [person(1, 100)])]
    assert summary(run(rules, frames)) == [("start", 1, 2.0)]


def test_a_track_that_leaves_and_returns_does_not_fire_again() -> None:
    rules = rules_for(kind="intrusion", cooldown_s=0)
    away = GONE_AFTER_S + 1.0
    frames = [(0.0, [person(1, 100)]), (away, [person(1, 500)]), (away + 1, [person(1, 100)])]
    assert summary(run(rules, frames)) == [("start", 1, 0.0), ("end", 1, 0.0)]


# --- cooldown ---------------------------------------------------------------------------------


def test_cooldown_suppresses_other_tracks_and_allows_exactly_at_its_end() -> None:
    rules = rules_for(kind="intrusion", cooldown_s=10.0)
    frames = []
    for i in range(25):
        t = i * 0.5
        boxes = [person(1, 100)]
        boxes += [person(2, 150)] if t >= 9.5 else []  # qualifies within the cooldown
        boxes += [person(3, 200)] if t >= 10.0 else []  # exactly 10 s after the first alert
        frames.append((t, boxes))
    assert summary(run(rules, frames)) == [
        ("start", 1, 0.0),
        ("suppressed", 2, 9.5),
        ("start", 3, 10.0),
    ]


def test_zero_cooldown_alerts_every_track() -> None:
    rules = rules_for(kind="intrusion", cooldown_s=0)
    frames = [(0.0, [person(1, 100), person(2, 150)]), (0.2, [person(1, 100), person(2, 150)])]
    assert summary(run(rules, frames)) == [("start", 1, 0.0), ("start", 2, 0.0)]


# --- schedules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "second", "next_day", "fires"),
    [
        (21, 59, 59, False, False),
        (22, 0, 0, False, True),
        (4, 59, 59, True, True),
        (5, 0, 0, True, False),
    ],
)
def test_schedule_wraps_midnight_with_start_in_and_end_out(
    hour: int, minute: int, second: int, next_day: bool, fires: bool
) -> None:
    rules = rules_for(kind="intrusion", schedule={"start": "22:00", "end": "05:00"})
    day = dt.datetime(2026, 11, 25, tzinfo=HANOI) + dt.timedelta(days=int(next_day))
    moment = day.replace(hour=hour, minute=minute, second=second).timestamp()
    events = rules.evaluate(tracked(person(1, 100)), W, H, moment)
    assert bool(events) is fires


def test_a_track_already_inside_fires_when_the_schedule_arms() -> None:
    rules = rules_for(
        kind="intrusion", min_presence_s=5.0, schedule={"start": "12:01", "end": "13:00"}
    )
    frames = every(1.0, 70.0, [person(1, 100)])
    assert summary(run(rules, frames)) == [("start", 1, 60.0)]


def test_an_open_alert_still_ends_after_the_schedule_closes() -> None:
    rules = rules_for(kind="intrusion", schedule={"start": "11:00", "end": "12:00:01"})
    frames = [(0.0, [person(1, 100)]), (1.0, [person(1, 100)]), (5.0, [person(1, 500)])]
    assert summary(run(rules, frames)) == [("start", 1, 0.0), ("end", 1, 1.0)]


# --- loitering --------------------------------------------------------------------------------


def test_loitering_fires_when_the_dwell_reaches_the_threshold() -> None:
    rules = rules_for(kind="loitering", min_dwell_s=10.0)
    frames = every(0.5, 12.0, [person(1, 100), person(2, 500)])
    events = run(rules, frames)
    assert summary(events) == [("start", 1, 10.0)]
    assert events[0].since == NOON


def test_loitering_dwell_restarts_after_a_long_absence() -> None:
    rules = rules_for(kind="loitering", min_dwell_s=4.0)
    first = every(1.0, 3.0, [person(1, 100)])
    gap = 3.0 + GONE_AFTER_S + 1.0
    second = [(gap + t, boxes) for t, boxes in every(1.0, 4.0, [person(1, 100)])]
    assert summary(run(rules, first + second)) == [("start", 1, gap + 4.0)]


def test_loitering_rejects_a_short_dwell_in_config() -> None:
    with pytest.raises(ValueError, match="min_dwell_s"):
        camera(kind="loitering", min_dwell_s=0.5)


# --- line crossing ----------------------------------------------------------------------------


def walk(
    track: int, xs: list[float], start: float = 0.0, y: float = 300
) -> list[tuple[float, list[Box]]]:
    return [(start + i * 0.2, [person(track, x, y)]) for i, x in enumerate(xs)]


RIGHTWARDS = [200.0, 260.0, 310.0, 340.0, 380.0, 440.0]  # crosses x=320 between 310 and 340


def test_line_counts_both_directions_and_fires_for_the_wanted_one() -> None:
    rules = rules_for(kind="line_crossing", line="mid", direction="in", cooldown_s=0)
    frames = walk(1, RIGHTWARDS) + walk(2, RIGHTWARDS[::-1], start=2.0)
    events = run(rules, frames)
    assert summary(events) == [("start", 1, 0.6)]  # only "in" (onto the right side) fires
    assert events[0].direction == "in"
    (watch,) = rules.watches
    assert watch.counts == {"in": 1, "out": 1}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("direction", "fired"), [("out", [2]), ("both", [1, 2])])
def test_line_direction_out_and_both(direction: str, fired: list[int]) -> None:
    rules = rules_for(kind="line_crossing", line="mid", direction=direction, cooldown_s=0)
    events = run(rules, walk(1, RIGHTWARDS) + walk(2, RIGHTWARDS[::-1], start=2.0))
    assert [event.track_id for event in events if event.phase == Phase.START] == fired


def test_line_ignores_jitter_near_it_and_passes_beside_it() -> None:
    rules = rules_for(kind="line_crossing", line="mid", cooldown_s=0)
    jitter = walk(1, [300.0, 318.0, 323.0, 317.0, 322.0, 300.0])  # never clearly on the right
    beside = walk(2, RIGHTWARDS, start=2.0, y=470)  # below the line's end (y = 432)
    events = run(rules, jitter + beside)
    assert events == []
    (watch,) = rules.watches
    assert watch.counts == {"in": 0, "out": 0}  # type: ignore[attr-defined]


def test_line_alert_ends_when_the_track_is_gone_and_each_track_fires_once() -> None:
    rules = rules_for(kind="line_crossing", line="mid", cooldown_s=0)
    there_and_back = walk(1, RIGHTWARDS + RIGHTWARDS[::-1])
    later = [(10.0, [person(9, 100)])]
    events = run(rules, there_and_back + later)
    assert summary(events) == [("start", 1, 0.6), ("end", 1, 2.2)]


# --- crowd ------------------------------------------------------------------------------------


def crowd(n: int, first_track: int = 1) -> list[Box]:
    return [person(first_track + i, 40 + 30 * i) for i in range(n)]


def test_crowd_fires_once_per_episode_after_min_duration() -> None:
    rules = rules_for(kind="crowd", min_count=3, min_duration_s=2.0, cooldown_s=0)
    frames = every(0.5, 1.0, crowd(2)) + [(1.5 + t, b) for t, b in every(0.5, 4.0, crowd(3))]
    events = run(rules, frames)
    assert summary(events) == [("start", None, 3.5)]
    assert events[0].rows == (0, 1, 2)
    assert events[0].since == NOON + 1.5


def test_crowd_episode_survives_a_dip_and_ends_after_it_disperses() -> None:
    rules = rules_for(kind="crowd", min_count=3, min_duration_s=0, cooldown_s=0)
    frames = [(0.0, crowd(3)), (1.0, crowd(2)), (2.0, crowd(3)), (3.0, crowd(1))]
    frames += [(3.0 + GONE_AFTER_S + 0.5, crowd(1))]
    assert summary(run(rules, frames)) == [("start", None, 0.0), ("end", None, 2.0)]


def test_crowd_cooldown_spans_episodes() -> None:
    rules = rules_for(kind="crowd", min_count=2, min_duration_s=0, cooldown_s=30.0)
    gap = GONE_AFTER_S + 1.0
    frames = [(0.0, crowd(2)), (gap, []), (gap + 1, crowd(2, 10)), (30.0, []), (40.0, crowd(2, 20))]
    assert summary(run(rules, frames)) == [
        ("start", None, 0.0),
        ("end", None, 0.0),
        ("suppressed", None, gap + 1),
        ("start", None, 40.0),
    ]


# --- the rules' input -------------------------------------------------------------------------


def test_rules_need_tracked_detections() -> None:
    rules = rules_for(kind="intrusion")
    untracked = Detections(
        np.zeros((1, 4), np.float32), np.ones(1, np.float32), np.zeros(1, np.int32)
    )
    with pytest.raises(ValueError, match="tracker_id"):
        rules.evaluate(untracked, W, H, NOON)
    with pytest.raises(ValueError, match="tracker_id"):
        rules.evaluate(untracked.with_tracker_ids(np.array([-1], np.int64)), W, H, NOON)
