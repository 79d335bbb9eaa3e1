"""The best picture of each track so far, so that an alert shows the object at its clearest.

For every live track of a camera we keep its most confident sighting: a reference to the
analysed frame (not a copy: frames are private to the core once read) and the box. When a rule
fires for a track, the alert's snapshot is that sighting, provided it was taken while the rule's
condition held (at or after ``since``); otherwise the frame that made the rule fire is used.
Tracks not seen for :data:`detect.tracking.LOST_AFTER_S` are forgotten, frames and all; each
goes to ``on_ended`` first with its best sighting and when it was first and last seen (the live
core keeps them for investigation: :mod:`detect.sighting_keeper`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from detect.detections import Detections
from detect.snapshots import Box, Image
from detect.tracking import LOST_AFTER_S


@dataclass(frozen=True, slots=True, eq=False)
class Sighting:
    """One track seen in one frame."""

    image: Image
    box: Box
    confidence: float
    class_id: int
    at: float


@dataclass(frozen=True, slots=True, eq=False)
class EndedTrack:
    """A track that is gone: its best sighting, and when it was first and last seen."""

    track_id: int
    best: Sighting
    first_seen: float
    last_seen: float


class BestSightings:
    """The most confident sighting of each live track of one camera."""

    def __init__(self, on_ended: Callable[[EndedTrack], None] | None = None) -> None:
        self._best: dict[int, Sighting] = {}
        self._first_seen: dict[int, float] = {}
        self._last_seen: dict[int, float] = {}
        self._on_ended = on_ended

    def note(self, image: Image, detections: Detections, t: float) -> None:
        """Consider every tracked row of a frame taken at ``t``; forget tracks long gone."""
        if detections.tracker_id is not None:
            for row, track in enumerate(detections.tracker_id.tolist()):
                self._last_seen[track] = t
                self._first_seen.setdefault(track, t)
                score = float(detections.confidence[row])
                best = self._best.get(track)
                if best is None or score > best.confidence:
                    x1, y1, x2, y2 = detections.xyxy[row].tolist()
                    class_id = int(detections.class_id[row])
                    self._best[track] = Sighting(image, (x1, y1, x2, y2), score, class_id, t)
        gone = [k for k, seen in self._last_seen.items() if t - seen > LOST_AFTER_S]
        for track in gone:
            self._end(track)

    def end_all(self) -> None:
        """Every live track ends (the core stops)."""
        for track in list(self._last_seen):
            self._end(track)

    def _end(self, track: int) -> None:
        last = self._last_seen.pop(track)
        first = self._first_seen.pop(track, last)
        best = self._best.pop(track, None)
        if best is not None and self._on_ended is not None:
            self._on_ended(EndedTrack(track, best, first, last))

    def best(self, track: int, since: float) -> Sighting | None:
        """The track's best sighting, if it was taken at or after ``since``."""
        sighting = self._best.get(track)
        return sighting if sighting is not None and sighting.at >= since else None
