"""Dwell rules: ``intrusion`` and ``loitering``, both "this track stayed in the zone long enough".

They differ in intent, not in mechanics: an intrusion's ``min_presence_s`` is a short debounce
(0 fires on the first confirmed sighting), loitering's ``min_dwell_s`` is the point of the rule.
Both count seconds, never frames (the analysis rate varies: bursts, overload, regions), and both
also want ``min_hits`` real sightings inside the zone: a track held in place while the model
looked elsewhere (:mod:`detect.track_book`) adds time but no hits.

A *stay* begins when a track's feet are first seen inside the zone and ends once they have not
been seen inside for :data:`GONE_AFTER_S` (so a missed detection or a step over the edge does
not split it). A track fires the rule at most once in its life; the alert is ended when its stay
ends. While the rule cools down, a track that qualifies is reported ``SUPPRESSED`` and does not
fire later either: it belongs to the situation the operator was just shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from common.config import IntrusionRule, LoiteringRule
from detect.rules.events import Cooldown, Phase, RuleEvent, TrackedFrame
from detect.tracking import LOST_AFTER_S
from detect.zones import PolygonZone

GONE_AFTER_S = LOST_AFTER_S
"""A stay (or a track) is over when it has not been seen for this long."""


@dataclass(slots=True)
class _Stay:
    entered: float
    last_inside: float
    hits: int = 0
    """Frames in which the model found the track inside (held boxes are no hits)."""
    alert_open: bool = False


class DwellWatch:
    """One intrusion or loitering rule on one camera."""

    def __init__(
        self,
        rule: IntrusionRule | LoiteringRule,
        zone: PolygonZone,
        class_ids: npt.NDArray[np.int32],
    ) -> None:
        self.rule = rule
        self._zone = zone
        self._classes = class_ids
        self._min_s = rule.min_presence_s if isinstance(rule, IntrusionRule) else rule.min_dwell_s
        self._cooldown = Cooldown(rule.cooldown_s)
        self._stays: dict[int, _Stay] = {}
        self._decided: set[int] = set()
        """Tracks that fired or were suppressed: they never fire again."""

    def update(self, frame: TrackedFrame, armed: bool) -> list[RuleEvent]:
        """Feed one frame; ``armed`` False (outside the schedule) watches without firing."""
        events = self._ended_stays(frame.t)  # first: a stale stay must not be continued
        dets = frame.detections
        inside = self._zone.trigger(dets, self._classes, frame.width, frame.height)
        for row in np.flatnonzero(inside).tolist():
            track = int(dets.tracker_id[row]) if dets.tracker_id is not None else -1
            stay = self._stays.setdefault(track, _Stay(frame.t, frame.t))
            stay.last_inside = frame.t
            stay.hits += frame.hit(row)
            if (
                armed
                and track not in self._decided
                and frame.t - stay.entered >= self._min_s
                and stay.hits >= self.rule.min_hits
            ):
                self._decided.add(track)
                events.append(self._fire(frame, row, track, stay))
        return events

    def _fire(self, frame: TrackedFrame, row: int, track: int, stay: _Stay) -> RuleEvent:
        if not self._cooldown.try_fire(frame.t):
            return RuleEvent(self.rule, Phase.SUPPRESSED, track, frame.t, stay.entered)
        stay.alert_open = True
        outline = self._zone.outline(frame.width, frame.height)
        return RuleEvent(self.rule, Phase.START, track, frame.t, stay.entered, (row,), outline)

    def _ended_stays(self, now: float) -> list[RuleEvent]:
        ended = [k for k, stay in self._stays.items() if now - stay.last_inside > GONE_AFTER_S]
        events = []
        for track in ended:
            stay = self._stays.pop(track)
            if stay.alert_open:
                events.append(
                    RuleEvent(self.rule, Phase.END, track, stay.last_inside, stay.entered)
                )
        return events

    def tracks_gone(self, gone: dict[int, float]) -> list[RuleEvent]:
        """Forget tracks the tracker has dropped (their stays have already ended)."""
        self._decided -= gone.keys()
        return []
