"""Rules turn each analysed frame's detections into the few alerts an operator should see.

An intrusion rule watches one zone for objects of some classes. Presence comes in
*episodes*: an episode starts when a matching object appears in the zone and ends when
none has been seen for ``EPISODE_GAP_S``. An episode raises one alert once it has lasted
``min_presence_s``; if it goes on, a reminder is raised every ``cooldown_s``. A rule with a
schedule is only armed inside its hours (site time zone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from common.config import CameraConfig, IntrusionRule
from detect.detections import Detections
from detect.zones import PolygonZone

EPISODE_GAP_S = 3.0


@dataclass(frozen=True, slots=True)
class Trigger:
    """A rule fired on one detection of one frame."""

    rule: IntrusionRule
    zone: PolygonZone
    index: int
    class_name: str
    confidence: float
    box: tuple[float, float, float, float]


@dataclass(slots=True)
class _Episode:
    started: float
    last_seen: float
    last_alert: float | None = None


class IntrusionWatch:
    """The state of one intrusion rule on one camera."""

    def __init__(self, rule: IntrusionRule, zone: PolygonZone, class_names: Sequence[str]) -> None:
        self.rule = rule
        self.zone = zone
        self._classes = np.asarray([class_names.index(name) for name in rule.classes])
        self._episode: _Episode | None = None

    def update(self, detections: Detections, width: int, height: int, t: float) -> Trigger | None:
        """Feed one frame's detections taken at wall-clock ``t``; maybe fire."""
        matching = np.isin(detections.class_id, self._classes)
        inside = matching.copy()
        if matching.any():
            anchors = detections.anchors_bottom_center()[matching]
            inside[matching] = self.zone.contains(anchors, width, height)
        if not inside.any():
            return None
        episode = self._episode
        if episode is None or t - episode.last_seen > EPISODE_GAP_S:
            episode = self._episode = _Episode(started=t, last_seen=t)
        episode.last_seen = t
        if t - episode.started < self.rule.min_presence_s:
            return None
        if episode.last_alert is not None and t - episode.last_alert < self.rule.cooldown_s:
            return None
        episode.last_alert = t
        best = int(np.flatnonzero(inside)[np.argmax(detections.confidence[inside])])
        x1, y1, x2, y2 = (float(v) for v in detections.xyxy[best])
        return Trigger(
            rule=self.rule,
            zone=self.zone,
            index=best,
            class_name=self._class_name(int(detections.class_id[best])),
            confidence=float(detections.confidence[best]),
            box=(x1, y1, x2, y2),
        )

    def _class_name(self, class_id: int) -> str:
        return self.rule.classes[list(self._classes).index(class_id)]


class CameraRules:
    """All rules of one camera."""

    def __init__(
        self, camera: CameraConfig, class_names: Sequence[str], timezone: ZoneInfo
    ) -> None:
        zones = {zone.name: PolygonZone(zone) for zone in camera.zones}
        self._timezone = timezone
        self._watches = [
            IntrusionWatch(rule, zones[rule.zone], class_names) for rule in camera.rules
        ]

    def evaluate(self, detections: Detections, width: int, height: int, t: float) -> list[Trigger]:
        """Every rule that fires on this frame."""
        local = dt.datetime.fromtimestamp(t, self._timezone).time()
        triggers = []
        for watch in self._watches:
            schedule = watch.rule.schedule
            if schedule is not None and not schedule.active_at(local):
                continue
            trigger = watch.update(detections, width, height, t)
            if trigger is not None:
                triggers.append(trigger)
        return triggers
