"""Crowd: ``min_count`` or more objects of the rule's classes in a zone for ``min_duration_s``.

The count covers tracked objects only, so a box that flickers for one frame does not make a
crowd. An *episode* starts when the count first reaches ``min_count`` and ends once it has stayed
below for :data:`detect.rules.dwell.GONE_AFTER_S` (one frame of missed detections does not
split it). An episode fires once, when it has lasted ``min_duration_s``; its alert ends with the
episode. A later episode fires again only when the cooldown has passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from common.config import CrowdRule
from detect.rules.dwell import GONE_AFTER_S
from detect.rules.events import Cooldown, Phase, RuleEvent, TrackedFrame
from detect.zones import PolygonZone


@dataclass(slots=True)
class _Episode:
    since: float
    last_crowded: float
    decided: bool = False
    alert_open: bool = False


class CrowdWatch:
    """One crowd rule on one camera."""

    def __init__(
        self, rule: CrowdRule, zone: PolygonZone, class_ids: npt.NDArray[np.int32]
    ) -> None:
        self.rule = rule
        self._zone = zone
        self._classes = class_ids
        self._cooldown = Cooldown(rule.cooldown_s)
        self._episode: _Episode | None = None

    def update(self, frame: TrackedFrame, armed: bool) -> list[RuleEvent]:
        """Feed one frame; ``armed`` False (outside the schedule) watches without firing."""
        events = self._ended_episode(frame.t)
        inside = self._zone.trigger(frame.detections, self._classes, frame.width, frame.height)
        if int(inside.sum()) < self.rule.min_count:
            return events
        episode = self._episode
        if episode is None:
            episode = self._episode = _Episode(frame.t, frame.t)
        episode.last_crowded = frame.t
        if not armed or episode.decided or frame.t - episode.since < self.rule.min_duration_s:
            return events
        episode.decided = True
        if not self._cooldown.try_fire(frame.t):
            return [*events, RuleEvent(self.rule, Phase.SUPPRESSED, None, frame.t, episode.since)]
        episode.alert_open = True
        rows = tuple(np.flatnonzero(inside).tolist())
        outline = self._zone.outline(frame.width, frame.height)
        start = RuleEvent(self.rule, Phase.START, None, frame.t, episode.since, rows, outline)
        return [*events, start]

    def _ended_episode(self, now: float) -> list[RuleEvent]:
        """Close the episode if the crowd has been gone for GONE_AFTER_S; END if it alerted."""
        episode = self._episode
        if episode is None or now - episode.last_crowded <= GONE_AFTER_S:
            return []
        self._episode = None
        if not episode.alert_open:
            return []
        return [RuleEvent(self.rule, Phase.END, None, episode.last_crowded, episode.since)]

    def tracks_gone(self, gone: dict[int, float]) -> list[RuleEvent]:  # noqa: ARG002
        """A crowd is counted frame by frame: departed tracks need no bookkeeping."""
        return []
