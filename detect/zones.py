"""Polygon zones on a camera picture: which detections stand inside.

As with ``supervision.PolygonZone``, :meth:`PolygonZone.trigger` answers with a boolean mask
over the frame's detections; a detection is inside when its *feet* (the middle of the box's
bottom edge, see :meth:`Detections.anchors_bottom_center`) are.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from common.config import Zone
from detect.detections import Detections


class PolygonZone:
    """A config :class:`Zone` (fractions of the picture) tested against pixel anchors."""

    def __init__(self, zone: Zone) -> None:
        self._fractions = np.asarray(zone.points, dtype=np.float32)

    def polygon(self, width: int, height: int) -> npt.NDArray[np.int32]:
        """The polygon in pixels of a ``width x height`` picture, as OpenCV draws it."""
        scale = np.asarray([width, height], dtype=np.float32)
        return np.round(self._fractions * scale).astype(np.int32)

    def outline(self, width: int, height: int) -> tuple[tuple[int, int], ...]:
        """The polygon's corners in pixels, as plain tuples (for messages)."""
        return tuple((int(x), int(y)) for x, y in self.polygon(width, height))

    def contains(
        self, anchors: npt.NDArray[np.float32], width: int, height: int
    ) -> npt.NDArray[np.bool_]:
        """Mask of the ``(N, 2)`` pixel anchors that lie inside or on the edge."""
        scale = np.asarray([width, height], dtype=np.float32)
        contour = (self._fractions * scale).reshape(-1, 1, 2)
        return np.fromiter(
            (cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in anchors),
            dtype=np.bool_,
            count=len(anchors),
        )

    def trigger(
        self, detections: Detections, class_ids: npt.NDArray[np.int32], width: int, height: int
    ) -> npt.NDArray[np.bool_]:
        """Mask of the detections of ``class_ids`` whose feet are inside the zone."""
        wanted = np.isin(detections.class_id, class_ids)
        inside = wanted.copy()
        if wanted.any():
            inside[wanted] = self.contains(
                detections.anchors_bottom_center()[wanted], width, height
            )
        return inside
