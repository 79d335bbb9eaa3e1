"""Counting lines: which tracked objects crossed a line since their last sighting, and which way.

Like ``supervision.LineZone``, a :class:`CrossingLine` remembers on which side of the line each
track was last seen and, given a new frame, returns two masks, *crossed in* and *crossed out*::

    line = CrossingLine(config_line)
    feet = tracked.anchors_bottom_center()
    crossed_in, crossed_out = line.trigger(tracked.tracker_id, feet, width, height)

Sides are told apart by the sign of a cross product. On the picture (y pointing down), a point
lies left of the way from ``a`` to ``b`` when ``(b - a) x (p - a) < 0``. Two guards keep
jitter from counting:

* a point closer to the line than ``margin`` (a fraction of the picture diagonal) tells
  nothing: the track keeps its last *confirmed* side;
* a change of side counts only if the step from the last confirmed position to the new one
  passes through the segment itself, not through its extension beyond either end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from common.config import Line

DEFAULT_MARGIN = 0.01


@dataclass(slots=True)
class _TrackSide:
    side: int
    """+1 on the "in" side, -1 on the other."""
    x: float
    y: float


class CrossingLine:
    """A config :class:`Line` that follows tracks across frames and reports their crossings."""

    def __init__(self, line: Line, margin: float = DEFAULT_MARGIN) -> None:
        self._fractions = np.asarray(line.points, dtype=np.float64)
        self._in_sign = -1.0 if line.in_side == "left" else 1.0
        self._margin = margin
        self._tracks: dict[int, _TrackSide] = {}

    def points(self, width: int, height: int) -> npt.NDArray[np.int32]:
        """The two end points in pixels of a ``width x height`` picture, as OpenCV draws them."""
        scale = np.asarray([width, height], dtype=np.float64)
        return np.round(self._fractions * scale).astype(np.int32)

    def trigger(
        self,
        tracker_id: npt.NDArray[np.int64],
        anchors: npt.NDArray[np.float32],
        width: int,
        height: int,
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Masks of the rows whose track crossed in, and crossed out, since it was last seen."""
        a, b = self._fractions * np.asarray([width, height], dtype=np.float64)
        crossed_in = np.zeros(len(tracker_id), np.bool_)
        crossed_out = np.zeros(len(tracker_id), np.bool_)
        margin = self._margin * float(np.hypot(width, height))
        places = zip(tracker_id.tolist(), anchors.tolist(), strict=True)
        for row, (track, (x, y)) in enumerate(places):
            distance = _signed_distance(a, b, x, y) * self._in_sign
            if abs(distance) < margin:
                continue
            side = 1 if distance > 0 else -1
            last = self._tracks.get(track)
            self._tracks[track] = _TrackSide(side, x, y)
            if last is None or last.side == side or not _segments_cross(a, b, last, x, y):
                continue
            (crossed_in if side > 0 else crossed_out)[row] = True
        return crossed_in, crossed_out

    def forget(self, tracks: Iterable[int]) -> None:
        """Drop what is remembered of ``tracks`` (the tracker has dropped them)."""
        for track in tracks:
            self._tracks.pop(track, None)


def _signed_distance(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], x: float, y: float
) -> float:
    """Distance of (x, y) from the line through a and b; negative on the left of a -> b."""
    dx, dy = b - a
    cross = dx * (y - a[1]) - dy * (x - a[0])
    return float(cross / np.hypot(dx, dy))


def _segments_cross(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], last: _TrackSide, x: float, y: float
) -> bool:
    """Whether the step from the last confirmed position to (x, y) meets the segment a-b."""
    start = np.asarray([last.x, last.y])
    end = np.asarray([x, y])
    step = end - start
    direction = b - a
    denominator = direction[0] * step[1] - direction[1] * step[0]
    if denominator == 0:
        return False
    offset = start - a
    along_line = (offset[0] * step[1] - offset[1] * step[0]) / denominator
    along_step = (offset[0] * direction[1] - offset[1] * direction[0]) / denominator
    return bool(0.0 <= along_line <= 1.0 and 0.0 <= along_step <= 1.0)
