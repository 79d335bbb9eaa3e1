"""All rules of one camera: build them from the config, feed them frames, gate them by schedule.

A schedule gates *firing*, not watching: outside its hours a rule still follows tracks (and a
line still counts), so a person who walked into a zone at 21:59 is reported at 22:00 when the
rule arms, and an alert that is open when the hours end is still ended when its track leaves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from common.config import CameraConfig, CrowdRule, Line, LineCrossingRule
from detect.detections import Detections
from detect.lines import CrossingLine
from detect.metrics import LINE_CROSSINGS_IN, LINE_CROSSINGS_OUT
from detect.rules.crossing import CrossingWatch
from detect.rules.crowd import CrowdWatch
from detect.rules.dwell import GONE_AFTER_S, DwellWatch
from detect.rules.events import RuleConfig, RuleEvent, TrackedFrame
from detect.zones import PolygonZone


class Watch(Protocol):
    """The state of one rule on one camera."""

    @property
    def rule(self) -> RuleConfig: ...

    def update(self, frame: TrackedFrame, armed: bool) -> list[RuleEvent]: ...

    def tracks_gone(self, gone: dict[int, float]) -> list[RuleEvent]: ...


class CameraRules:
    """Every rule of ``camera``; :meth:`evaluate` once per analysed frame, in capture order.

    Only ``live`` rules count line crossings in the metrics (a re-analysis job's do not).
    """

    def __init__(
        self,
        camera: CameraConfig,
        class_names: Sequence[str],
        timezone: ZoneInfo,
        *,
        live: bool = True,
    ) -> None:
        self.camera_id = camera.id
        self._live = live
        self._timezone = timezone
        self._class_names = class_names
        zones = {zone.name: PolygonZone(zone) for zone in camera.zones}
        lines = {line.name: line for line in camera.lines}
        self.watches: list[Watch] = [self._watch(rule, zones, lines) for rule in camera.rules]
        self._last_seen: dict[int, float] = {}

    def _watch(
        self, rule: RuleConfig, zones: dict[str, PolygonZone], lines: dict[str, Line]
    ) -> Watch:
        class_ids = np.asarray([self._class_names.index(c) for c in rule.classes], np.int32)
        if isinstance(rule, LineCrossingRule):
            counters = None
            if self._live:
                counters = {
                    "in": LINE_CROSSINGS_IN.labels(self.camera_id, rule.name),
                    "out": LINE_CROSSINGS_OUT.labels(self.camera_id, rule.name),
                }
            return CrossingWatch(rule, CrossingLine(lines[rule.line]), class_ids, counters)
        if isinstance(rule, CrowdRule):
            return CrowdWatch(rule, zones[rule.zone], class_ids)
        return DwellWatch(rule, zones[rule.zone], class_ids)

    def evaluate(
        self,
        detections: Detections,
        width: int,
        height: int,
        t: float,
        seen: npt.NDArray[np.bool_] | None = None,
    ) -> list[RuleEvent]:
        """The events of every rule for one frame; every row must carry a track id >= 0.

        ``seen`` (per row) tells real sightings from tracks held in place (see
        :class:`TrackedFrame`); None: all are real."""
        ids = detections.tracker_id
        if ids is None or (ids < 0).any():
            raise ValueError("CameraRules.evaluate needs tracked detections (tracker_id >= 0)")
        frame = TrackedFrame(detections, width, height, t, seen)
        local = dt.datetime.fromtimestamp(t, self._timezone).time()
        events: list[RuleEvent] = []
        for watch in self.watches:
            schedule = watch.rule.schedule
            events += watch.update(frame, schedule is None or schedule.active_at(local))
        gone = self._gone(ids, t)
        for watch in self.watches:
            events += watch.tracks_gone(gone)
        return events

    def _gone(self, ids: npt.NDArray[np.int64], t: float) -> dict[int, float]:
        """Tracks not seen for GONE_AFTER_S, with their last sighting; they are forgotten."""
        for track in ids.tolist():
            self._last_seen[track] = t
        gone = {k: seen for k, seen in self._last_seen.items() if t - seen > GONE_AFTER_S}
        for track in gone:
            del self._last_seen[track]
        return gone
