"""Line crossing: count tracked objects crossing a line each way, and alert on one direction.

Every crossing of the wanted classes is counted (``counts`` and the Prometheus counters
``matthan_line_crossings_in`` / ``_out``), whatever the rule's direction, schedule or cooldown.
An alert fires when a track crosses in the rule's ``direction`` (``both``: either way), at most
once per track; it is ended when the tracker loses the track (the object has left the picture
or stayed hidden for :data:`detect.tracking.LOST_AFTER_S`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter

from common.config import LineCrossingRule
from detect.lines import CrossingLine
from detect.rules.events import Cooldown, Phase, RuleEvent, TrackedFrame


class CrossingWatch:
    """One line-crossing rule on one camera."""

    def __init__(
        self,
        rule: LineCrossingRule,
        line: CrossingLine,
        class_ids: npt.NDArray[np.int32],
        counters: dict[str, Counter] | None = None,
    ) -> None:
        self.rule = rule
        self.counts = {"in": 0, "out": 0}
        """Crossings seen so far, by direction."""
        self._line = line
        self._classes = class_ids
        self._counters = counters or {}
        self._cooldown = Cooldown(rule.cooldown_s)
        self._open: dict[int, float] = {}
        """Tracks with an open alert -> when they crossed."""
        self._decided: set[int] = set()

    def update(self, frame: TrackedFrame, armed: bool) -> list[RuleEvent]:
        """Feed one frame; ``armed`` False (outside the schedule) counts without firing."""
        dets = frame.detections
        rows = np.flatnonzero(np.isin(dets.class_id, self._classes))
        if dets.tracker_id is None or not rows.size:
            return []
        tracks = dets.tracker_id[rows]
        feet = dets.anchors_bottom_center()[rows]
        crossed_in, crossed_out = self._line.trigger(tracks, feet, frame.width, frame.height)
        events = []
        for row, track, went_in, went_out in zip(
            rows.tolist(), tracks.tolist(), crossed_in, crossed_out, strict=True
        ):
            if not (went_in or went_out):
                continue
            direction = "in" if went_in else "out"
            self._count(direction)
            wanted = self.rule.direction in (direction, "both")
            if wanted and armed and track not in self._decided:
                self._decided.add(track)
                events.append(self._fire(frame, row, track, direction))
        return events

    def _count(self, direction: str) -> None:
        self.counts[direction] += 1
        counter = self._counters.get(direction)
        if counter is not None:
            counter.inc()

    def _fire(self, frame: TrackedFrame, row: int, track: int, direction: str) -> RuleEvent:
        t = frame.t
        if not self._cooldown.try_fire(t):
            return RuleEvent(self.rule, Phase.SUPPRESSED, track, t, t, direction=direction)
        self._open[track] = t
        ends = self._line.points(frame.width, frame.height)
        outline = tuple((int(x), int(y)) for x, y in ends)
        return RuleEvent(self.rule, Phase.START, track, t, t, (row,), outline, direction)

    def tracks_gone(self, gone: dict[int, float]) -> list[RuleEvent]:
        """End the alerts of tracks the tracker dropped, at their last sighting."""
        self._line.forget(gone)
        self._decided -= gone.keys()
        events = []
        for track, last_seen in gone.items():
            crossed = self._open.pop(track, None)
            if crossed is not None:
                events.append(RuleEvent(self.rule, Phase.END, track, last_seen, crossed))
        return events
