"""Small pictures for alerts that have no camera frame of their own (disk low, analysis down)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt


def text_card(title: str, detail: str, background: npt.NDArray[np.uint8] | None = None) -> bytes:
    """A JPEG with ``title`` large and ``detail`` below, over a dimmed ``background``."""
    picture = background // 3 if background is not None else np.zeros((360, 640, 3), np.uint8)
    height, width = picture.shape[:2]
    scale = max(0.5, width / 900)
    thick = max(2, int(3 * scale))
    origin = (20, height // 2)
    cv2.putText(picture, title, origin, cv2.FONT_HERSHEY_SIMPLEX, 2 * scale, (60, 60, 255), thick)
    below = (20, height // 2 + int(50 * scale))
    cv2.putText(
        picture, detail[:70], below, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (230, 230, 230), 1
    )
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()
