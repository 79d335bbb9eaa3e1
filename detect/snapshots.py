"""The pictures an alert carries: the whole frame with the zone or line and boxes drawn, and a
clean crop of the object."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]
SHAPE_COLOUR = (0, 200, 255)
BOX_COLOUR = (0, 0, 255)


def encode_jpeg(image: Image, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def annotated(
    frame: Image, outline: Sequence[tuple[int, int]], boxes: Sequence[tuple[Box, str]]
) -> Image:
    """A copy of ``frame`` with ``outline`` (a zone polygon, or a line of two points) drawn and
    each ``(box, label)`` outlined and labelled."""
    picture = frame.copy()
    if outline:
        points = np.asarray(outline, np.int32).reshape(-1, 1, 2)
        cv2.polylines(picture, [points], len(outline) > 2, SHAPE_COLOUR, 2)
    for box, label in boxes:
        x1, y1, x2, y2 = (round(v) for v in box)
        cv2.rectangle(picture, (x1, y1), (x2, y2), BOX_COLOUR, 2)
        position = (x1, max(12, y1 - 4))
        cv2.putText(picture, label, position, cv2.FONT_HERSHEY_SIMPLEX, 0.5, BOX_COLOUR, 1)
    return picture


def crop(frame: Image, box: Box, margin: float = 0.15) -> Image:
    """The object with a little context around it, undrawn."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    pad_x, pad_y = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
    right, bottom = min(width, int(x2 + pad_x) + 1), min(height, int(y2 + pad_y) + 1)
    return frame[top:bottom, left:right].copy()
