"""The pictures an alert carries: the whole frame with the zone and box drawn, and a crop."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from detect.zones import PolygonZone

Image = npt.NDArray[np.uint8]
ZONE_COLOUR = (0, 200, 255)
BOX_COLOUR = (0, 0, 255)


def encode_jpeg(image: Image, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def annotated(
    frame: Image, zone: PolygonZone, box: tuple[float, float, float, float], label: str
) -> Image:
    """A copy of ``frame`` with the zone outlined and the object's box labelled."""
    height, width = frame.shape[:2]
    picture = frame.copy()
    cv2.polylines(picture, [zone.polygon(width, height)], True, ZONE_COLOUR, 2)
    x1, y1, x2, y2 = (round(v) for v in box)
    cv2.rectangle(picture, (x1, y1), (x2, y2), BOX_COLOUR, 2)
    cv2.putText(picture, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BOX_COLOUR, 1)
    return picture


def crop(frame: Image, box: tuple[float, float, float, float], margin: float = 0.15) -> Image:
    """The object with a little context around it, undrawn."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    pad_x, pad_y = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
    right, bottom = min(width, int(x2 + pad_x) + 1), min(height, int(y2 + pad_y) + 1)
    return frame[top:bottom, left:right].copy()
