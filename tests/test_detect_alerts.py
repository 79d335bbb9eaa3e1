"""From rule events to stored alerts: pictures, start and end, suppressed counts, orphans, and the
supervisor's "analysis down" alert."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from prometheus_client import REGISTRY

from common import alert_rows
from common.alert_rows import LiveAlerts, NewAlert
from common.channel import Channel, DropPolicy
from common.coco import COCO_CLASSES
from common.config import CrowdRule, IntrusionRule
from common.heartbeat import Heartbeat
from common.messages import AlertNotice, Severity
from common.roles import DETECT_ROLE
from common.store import Store
from detect.alerts import AlertKeeper, AnalysedFrame
from detect.detections import Detections
from detect.rules import Phase, RuleEvent
from detect.sightings import BestSightings
from matthan.analysis_watch import AnalysisWatch

INTRUSION = IntrusionRule(kind="intrusion", name="vao", zone="z", severity=Severity.CRITICAL)
CROWD = CrowdRule(kind="crowd", name="dong", zone="z", min_count=2)
ZONE = ((0, 0), (320, 0), (320, 240), (0, 240))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "alerts.db")
    yield opened
    opened.close()


@pytest.fixture
def notices() -> Iterator[Channel[AlertNotice]]:
    """A real ``alert_notices`` channel, read back in the test process."""
    made: Channel[AlertNotice] = Channel.create(
        mp.get_context("spawn"), "alert_notices", 10, policy=DropPolicy.NEWEST
    )
    yield made
    made.close()


def frame_with(boxes: list[tuple[int, float, float, float, float, str, float]]) -> AnalysedFrame:
    image = np.full((240, 320, 3), 90, np.uint8)
    detections = Detections(
        xyxy=np.asarray([b[1:5] for b in boxes], np.float32),
        confidence=np.asarray([b[6] for b in boxes], np.float32),
        class_id=np.asarray([COCO_CLASSES.index(b[5]) for b in boxes], np.int32),
        tracker_id=np.asarray([b[0] for b in boxes], np.int64),
    )
    sightings = BestSightings()
    sightings.note(image, detections, 10.0)
    return AnalysedFrame("cam", image, detections, sightings)


def test_a_track_alert_is_stored_with_pictures_and_ended(
    store: Store, notices: Channel[AlertNotice]
) -> None:
    keeper = AlertKeeper(LiveAlerts(store), notices, COCO_CLASSES)
    frame = frame_with([(3, 40, 50, 80, 150, "person", 0.9), (4, 200, 50, 240, 150, "car", 0.7)])
    start = RuleEvent(INTRUSION, Phase.START, 3, 10.0, 9.0, (0,), ZONE)
    keeper.handle(frame, [start])
    (alert,) = alert_rows.alerts_after(store, 0)
    assert (alert.kind, alert.rule, alert.camera_id) == ("intrusion", "vao", "cam")
    assert (alert.class_name, alert.track_id, alert.severity) == ("person", 3, "critical")
    assert alert.started_at == 9.0
    assert alert.box == (40, 50, 80, 150)
    assert alert.confidence == pytest.approx(0.9)
    snapshot = cv2.imdecode(np.frombuffer(alert_rows.snapshot(store, alert.id) or b"", np.uint8), 1)
    crop = cv2.imdecode(
        np.frombuffer(alert_rows.snapshot(store, alert.id, crop=True) or b"", np.uint8), 1
    )
    assert snapshot.shape == (240, 320, 3)
    assert crop.shape[0] > 100
    assert crop.shape[1] < 60
    keeper.handle(frame, [RuleEvent(INTRUSION, Phase.END, 3, 12.5, 9.0)])
    assert alert_rows.alerts_after(store, 0)[0].ended_at == 12.5
    sent = [notices.receive(timeout=5) for _ in range(2)]
    assert sent == [
        AlertNotice(alert.id, "cam", "intrusion"),
        AlertNotice(alert.id, "cam", "intrusion", updated=True),
    ]


def test_a_crowd_alert_boxes_every_member(store: Store) -> None:
    keeper = AlertKeeper(LiveAlerts(store), None, COCO_CLASSES)
    members = [(1, 10, 20, 50, 120, "person", 0.8), (2, 100, 30, 140, 130, "person", 0.6)]
    frame = frame_with([*members, (3, 200, 10, 300, 60, "car", 0.9)])
    keeper.handle(frame, [RuleEvent(CROWD, Phase.START, None, 10.0, 5.0, (0, 1), ZONE)])
    (alert,) = alert_rows.alerts_after(store, 0)
    assert (alert.kind, alert.class_name, alert.track_id) == ("crowd", "person", None)
    assert alert.box == (10, 20, 140, 130)
    keeper.end_all(11.0)
    assert alert_rows.alerts_after(store, 0)[0].ended_at == 11.0


def test_suppressed_events_are_counted_not_stored(store: Store) -> None:
    keeper = AlertKeeper(LiveAlerts(store), None, COCO_CLASSES)
    labels = {"camera": "cam", "rule": "vao"}
    before = REGISTRY.get_sample_value("matthan_alerts_suppressed_total", labels) or 0.0
    frame = frame_with([(3, 40, 50, 80, 150, "person", 0.9)])
    keeper.handle(frame, [RuleEvent(INTRUSION, Phase.SUPPRESSED, 3, 10.0, 9.0)])
    assert alert_rows.alerts_after(store, 0) == []
    assert REGISTRY.get_sample_value("matthan_alerts_suppressed_total", labels) == before + 1


def test_orphans_of_a_dead_core_are_ended_but_not_other_alerts(store: Store) -> None:
    def add(kind: str) -> int:
        alert = NewAlert("cam", kind, kind, Severity.WARNING, 1.0, b"jpeg")
        return alert_rows.add_alert(store, alert)

    rule_alert, offline = add("loitering"), add("camera_offline")
    assert AlertKeeper.end_orphans(store, at=5.0) == 1
    ended = {alert.id: alert.ended_at for alert in alert_rows.alerts_after(store, 0)}
    assert ended == {rule_alert: 5.0, offline: None}


def test_analysis_down_is_raised_once_and_ended_by_the_next_heartbeat(
    store: Store, notices: Channel[AlertNotice]
) -> None:
    watch = AnalysisWatch(store, notices)
    Heartbeat(store, DETECT_ROLE).maybe_beat()  # the core that is about to die
    time.sleep(0.01)
    watch.went_down(at=time.time(), detail="detector exited (-9)")
    watch.went_down(at=time.time(), detail="again")  # already open: no second alert
    (alert,) = alert_rows.alerts_after(store, 0)
    assert (alert.camera_id, alert.kind, alert.severity) == ("*", "analysis_down", "critical")
    assert alert_rows.snapshot(store, alert.id)
    watch.check()
    assert watch.alert_id == alert.id  # the old beat does not end it
    time.sleep(0.01)
    Heartbeat(store, DETECT_ROLE).maybe_beat()  # the restarted core
    watch.check()
    assert watch.alert_id is None
    ended = alert_rows.alerts_after(store, 0)[0]
    assert ended.ended_at is not None
    assert ended.ended_at >= alert.started_at
    assert [notices.receive(timeout=5) for _ in range(2)] == [
        AlertNotice(alert.id, "*", "analysis_down"),
        AlertNotice(alert.id, "*", "analysis_down", updated=True),
    ]


def test_a_core_that_stopped_beating_is_hung(store: Store) -> None:
    watch = AnalysisWatch(store, None)
    assert watch.last_beat() is None
    assert not watch.is_hung(started_at=0.0, now=time.time() + 1000)  # never beat: loading
    Heartbeat(store, DETECT_ROLE).maybe_beat()
    beat = watch.last_beat()
    assert beat is not None
    assert not watch.is_hung(started_at=beat - 5, now=beat + 30)
    assert watch.is_hung(started_at=beat - 5, now=beat + 61)
    assert not watch.is_hung(started_at=beat + 1, now=beat + 61)  # a beat of an older core
