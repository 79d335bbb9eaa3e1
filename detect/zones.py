"""Polygon zones on a camera picture: which detections stand inside."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from common.config import Zone


class PolygonZone:
    """A config :class:`Zone` (fractions of the picture) tested against pixel anchors."""

    def __init__(self, zone: Zone) -> None:
        self.name = zone.name
        self._fractions = np.asarray(zone.points, dtype=np.float32)

    def polygon(self, width: int, height: int) -> npt.NDArray[np.int32]:
        """The polygon in pixels of a ``width x height`` picture, as OpenCV draws it."""
        scale = np.asarray([width, height], dtype=np.float32)
        return np.round(self._fractions * scale).astype(np.int32)

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
