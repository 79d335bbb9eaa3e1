"""The best picture of each track so far, so that an alert shows the object at its clearest.

For every live track of a camera we keep its most confident sighting: a reference to the
analysed frame (not a copy: frames are private to the core once read) and the box. When a rule
fires for a track, the alert's snapshot is that sighting, provided it was taken while the rule's
condition held (at or after ``since``); otherwise the frame that made the rule fire is used.
Tracks not seen for :data:`detect.tracking.LOST_AFTER_S` are forgotten, frames and all.
"""

from __future__ import annotations

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


class BestSightings:
    """The most confident sighting of each live track of one camera."""

    def __init__(self) -> None:
        self._best: dict[int, Sighting] = {}
        self._last_seen: dict[int, float] = {}

    def note(self, image: Image, detections: Detections, t: float) -> None:
        """Consider every tracked row of a frame taken at ``t``; forget tracks long gone."""
        if detections.tracker_id is not None:
            for row, track in enumerate(detections.tracker_id.tolist()):
                self._last_seen[track] = t
                score = float(detections.confidence[row])
                best = self._best.get(track)
                if best is None or score > best.confidence:
                    x1, y1, x2, y2 = detections.xyxy[row].tolist()
                    class_id = int(detections.class_id[row])
                    self._best[track] = Sighting(image, (x1, y1, x2, y2), score, class_id, t)
        gone = [k for k, seen in self._last_seen.items() if t - seen > LOST_AFTER_S]
        for track in gone:
            del self._last_seen[track]
            self._best.pop(track, None)

    def best(self, track: int, since: float) -> Sighting | None:
        """The track's best sighting, if it was taken at or after ``since``."""
        sighting = self._best.get(track)
        return sighting if sighting is not None and sighting.at >= since else None
