"""What the core remembers of each live track of one camera, to decide where to look next.

The tracker (:mod:`detect.tracking`) says which box is which object; this book adds what the
scheduler needs (:mod:`detect.looks`):

* **motion of the object**, not of pixels: a track is *moving* while its centre travels more
  than :data:`MOVING_SIZES_PER_S` of its own size per second, measured over at least
  :data:`SPEED_WINDOW_S` (so a parked car's jitter of a pixel or two does not count), and for its
  first :data:`SPEED_WINDOW_S`, before its speed is known;
* where a moving track is **expected** now (its last box moved on by its velocity);
* when each track's place was last **looked at** (inference over it): a stationary object is
  looked at again every ``stationary_recheck_s``;
* its last box, class and score, to **hold** it in the tracker while nobody looks at it: a frame
  analysed in regions sees only part of the picture, and a parked car outside those regions must
  not be reported gone. Held boxes are fed to the tracker like detections and marked as not seen,
  so that the rules count only real sightings as hits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detect.detections import Detections
from detect.regions import Boxes, Region
from detect.tracking import LOST_AFTER_S

MOVING_SIZES_PER_S = 0.15
"""A track moving less than this share of its size (sqrt of its area) per second is stationary."""
SPEED_WINDOW_S = 1.0
"""Speed is measured over at least this long."""
HELD_OVERLAP_IOU = 0.3
"""A track overlapping a detection of this frame this much was found, not held."""
HELD_AT_MOST_S = 120.0
"""A track never seen for this long is forgotten, looked at or not."""


@dataclass(slots=True)
class TrackState:
    """One live track, as last seen."""

    box: npt.NDArray[np.float32]
    class_id: int
    confidence: float
    seen_at: float
    looked_at: float
    anchor: tuple[float, float, float]
    """(t, centre x, centre y) where the current speed window started."""
    velocity: tuple[float, float] | None = None
    """Centre velocity in pixels per second over the last full window; None until known."""

    def moving(self) -> bool:
        if self.velocity is None:
            return True
        x1, y1, x2, y2 = self.box.tolist()
        size = math.sqrt(max(1.0, (x2 - x1) * (y2 - y1)))
        return math.hypot(*self.velocity) > MOVING_SIZES_PER_S * size

    def expected_box(self, t: float) -> npt.NDArray[np.float32]:
        """The last box, together with where it will be at ``t`` if it keeps its velocity."""
        if self.velocity is None:
            return self.box
        dt = max(0.0, t - self.seen_at)
        shift = np.array([*self.velocity, *self.velocity], np.float32) * np.float32(dt)
        ahead = self.box + shift
        return np.concatenate(
            [np.minimum(self.box[:2], ahead[:2]), np.maximum(self.box[2:], ahead[2:])]
        )


def _centre(box: npt.NDArray[np.float32]) -> tuple[float, float]:
    x1, y1, x2, y2 = box.tolist()
    return (x1 + x2) / 2, (y1 + y2) / 2


class TrackBook:
    """The live tracks of one camera; :meth:`observe` after every tracker update."""

    def __init__(self) -> None:
        self.tracks: dict[int, TrackState] = {}
        self.candidates: Boxes = np.empty((0, 4), np.float32)
        """Confident boxes of the last look that belong to no confirmed track yet: the next
        look goes there too, so that a new object is seen twice and its track confirmed."""

    def note_candidates(self, boxes: Boxes) -> None:
        """The confident boxes of the frame just analysed that no confirmed track took."""
        self.candidates = boxes

    def anything_moving(self) -> bool:
        """Whether a track moves, or a new object waits to be confirmed."""
        return len(self.candidates) > 0 or any(s.moving() for s in self.tracks.values())

    def observe(
        self,
        tracked: Detections,
        seen: npt.NDArray[np.bool_],
        regions: list[Region] | None,
        t: float,
    ) -> None:
        """Note a tracker update at ``t`` after the model looked at ``regions`` (None: the whole
        frame): rows ``seen`` were detected, the others were held.

        A track is forgotten once its place was looked at for :data:`LOST_AFTER_S` without
        seeing it (the tracker lets it go then too), or when it was held for
        :data:`HELD_AT_MOST_S` (a safety net: every stationary track is rechecked far sooner).
        """
        ids = tracked.tracker_id
        if ids is not None:
            for row in np.flatnonzero(seen).tolist():
                self._seen(int(ids[row]), tracked, row, t)
        looked = self.tracks.values() if regions is None else self._inside(regions, inside=True)
        for state in looked:
            state.looked_at = t
        gone = [
            k
            for k, state in self.tracks.items()
            if state.looked_at - state.seen_at > LOST_AFTER_S or t - state.seen_at > HELD_AT_MOST_S
        ]
        for track in gone:
            del self.tracks[track]

    def _seen(self, track: int, tracked: Detections, row: int, t: float) -> None:
        box = tracked.xyxy[row].copy()
        cx, cy = _centre(box)
        state = self.tracks.get(track)
        if state is None:
            state = TrackState(box, 0, 0.0, t, t, (t, cx, cy))
            self.tracks[track] = state
        t0, x0, y0 = state.anchor
        if t - t0 >= SPEED_WINDOW_S:
            state.velocity = ((cx - x0) / (t - t0), (cy - y0) / (t - t0))
            state.anchor = (t, cx, cy)
        state.box = box
        state.class_id = int(tracked.class_id[row])
        state.confidence = float(tracked.confidence[row])
        state.seen_at = t

    def moving_boxes(self, t: float) -> Boxes:
        """Where the moving tracks are expected at ``t``."""
        boxes = [state.expected_box(t) for state in self.tracks.values() if state.moving()]
        return _stack(boxes)

    def due_boxes(self, t: float, recheck_s: float) -> Boxes:
        """Boxes of stationary tracks whose place was last looked at ``recheck_s`` ago or more."""
        boxes = [
            state.box
            for state in self.tracks.values()
            if not state.moving() and t - state.looked_at >= recheck_s
        ]
        return _stack(boxes)

    def held(self, regions: list[Region], found: Detections) -> Detections:
        """The last boxes of the tracks outside every region looked at: kept, not seen.

        A track the model ``found`` anyway (a follow-up look, or a region's margin, reached
        it) is not held: a second box on the same object would start a second track."""
        states = [
            state
            for state in self._inside(regions, inside=False)
            if not _overlaps(state.box, found.xyxy)
        ]
        if not states:
            return Detections.empty()
        return Detections(
            xyxy=_stack([s.box for s in states]),
            confidence=np.array([s.confidence for s in states], np.float32),
            class_id=np.array([s.class_id for s in states], np.int32),
        )

    def _inside(self, regions: list[Region], *, inside: bool) -> list[TrackState]:
        states = list(self.tracks.values())
        if not states:
            return []
        boxes = _stack([s.box for s in states])
        covered = np.zeros(len(states), np.bool_)
        for region in regions:
            covered |= region.contains(boxes)
        return [s for s, c in zip(states, covered.tolist(), strict=True) if c == inside]


def _overlaps(box: npt.NDArray[np.float32], others: Boxes, iou: float = HELD_OVERLAP_IOU) -> bool:
    """Whether ``box`` overlaps one of ``others`` by at least ``iou``."""
    if not len(others):
        return False
    x1 = np.maximum(others[:, 0], box[0])
    y1 = np.maximum(others[:, 1], box[1])
    x2 = np.minimum(others[:, 2], box[2])
    y2 = np.minimum(others[:, 3], box[3])
    inner = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    own = (box[2] - box[0]) * (box[3] - box[1])
    return bool((inner >= iou * (areas + own - inner)).any())


def _stack(boxes: list[npt.NDArray[np.float32]]) -> Boxes:
    if not boxes:
        return np.empty((0, 4), np.float32)
    return np.stack(boxes).astype(np.float32)
