"""Intrusion rule on scripted detections: zones, classes, presence, cooldown, schedule."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from common.coco import COCO_CLASSES
from common.config import CameraConfig
from detect.detections import Detections
from detect.rules import EPISODE_GAP_S, CameraRules

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
W, H = 640, 480


def camera(**rule: object) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam",
            "name": "Cam",
            "detect_url": "rtsp://127.0.0.1/cam",
            "zones": [{"name": "left", "points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
            "rules": [{"kind": "intrusion", "name": "r", "zone": "left", **rule}],
        }
    )


def boxes(*items: tuple[float, float, float, float, str, float]) -> Detections:
    if not items:
        return Detections.empty()
    return Detections(
        xyxy=np.asarray([item[:4] for item in items], dtype=np.float32),
        confidence=np.asarray([item[5] for item in items], dtype=np.float32),
        class_id=np.asarray([COCO_CLASSES.index(item[4]) for item in items], dtype=np.int32),
    )


PERSON_LEFT = (100, 100, 150, 300, "person", 0.8)
PERSON_RIGHT = (400, 100, 450, 300, "person", 0.9)
CAR_LEFT = (50, 200, 250, 320, "car", 0.9)
NOON = dt.datetime(2026, 11, 25, 12, 0, tzinfo=HANOI).timestamp()


def fire_times(rules: CameraRules, frames: list[tuple[float, Detections]]) -> list[float]:
    return [t for t, dets in frames if rules.evaluate(dets, W, H, t)]


def test_only_matching_class_inside_zone_fires() -> None:
    rules = CameraRules(camera(classes=["person"]), COCO_CLASSES, HANOI)
    assert rules.evaluate(boxes(PERSON_RIGHT), W, H, NOON) == []
    assert rules.evaluate(boxes(CAR_LEFT), W, H, NOON + 0.2) == []
    (trigger,) = rules.evaluate(boxes(PERSON_RIGHT, PERSON_LEFT), W, H, NOON + 0.4)
    assert trigger.class_name == "person"
    assert trigger.index == 1
    assert trigger.box == (100, 100, 150, 300)


def test_min_presence_waits_for_a_steady_object() -> None:
    rules = CameraRules(camera(min_presence_s=2.0), COCO_CLASSES, HANOI)
    frames = [(NOON + i * 0.5, boxes(PERSON_LEFT)) for i in range(6)]
    assert fire_times(rules, frames) == [NOON + 2.0]


def test_presence_gap_restarts_the_episode() -> None:
    rules = CameraRules(camera(min_presence_s=1.0), COCO_CLASSES, HANOI)
    frames = [(NOON, boxes(PERSON_LEFT)), (NOON + 0.8, boxes(PERSON_LEFT))]
    later = NOON + 0.8 + EPISODE_GAP_S + 0.5
    frames += [(later, boxes(PERSON_LEFT)), (later + 0.5, boxes(PERSON_LEFT))]
    frames += [(later + 1.0, boxes(PERSON_LEFT))]
    assert fire_times(rules, frames) == [later + 1.0]


def test_cooldown_gives_one_alert_then_reminders() -> None:
    rules = CameraRules(camera(cooldown_s=10.0), COCO_CLASSES, HANOI)
    frames = [(NOON + i * 1.0, boxes(PERSON_LEFT)) for i in range(25)]
    assert fire_times(rules, frames) == [NOON, NOON + 10.0, NOON + 20.0]


def test_schedule_wraps_midnight() -> None:
    rules = CameraRules(camera(schedule={"start": "22:00", "end": "05:00"}), COCO_CLASSES, HANOI)
    day = dt.datetime(2026, 11, 25, tzinfo=HANOI)
    at = [
        day.replace(hour=21, minute=59, second=59),
        day.replace(hour=22),
        day.replace(hour=4, minute=59) + dt.timedelta(days=1),
        day.replace(hour=5) + dt.timedelta(days=1, minutes=5),
    ]
    fired = [bool(rules.evaluate(boxes(PERSON_LEFT), W, H, moment.timestamp())) for moment in at]
    assert fired == [False, True, True, False]
