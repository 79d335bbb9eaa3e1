"""Small recent pictures of each camera for the camera wall.

For now a camera's thumbnail is its latest alert snapshot, scaled down so a wall of 100+
cameras loads a few megabytes, not a hundred. The HTTP side
(``/api/cameras/{id}/thumbnail.jpg``, no-cache with an ETag) does not care where the
picture comes from: when ingest publishes a periodic frame per camera, :meth:`latest`
reads that instead and the wall shows live-ish pictures without any page change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from common.store import Store
from dashboard.alert_query import latest_alert_id

WIDTH = 320
CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class Thumbnail:
    jpeg: bytes
    etag: str


def scale_jpeg(jpeg: bytes, width: int = WIDTH) -> bytes:
    """The picture scaled to ``width`` pixels wide (never up), re-encoded as JPEG."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a JPEG picture")
    height, old_width = image.shape[:2]
    if old_width > width:
        size = (width, max(1, round(height * width / old_width)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 75])
    if not ok:
        raise ValueError("cannot encode the thumbnail")
    return encoded.tobytes()


class Thumbnails:
    """Latest picture per camera, scaled once and kept in a bounded cache."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def latest(self, camera_id: str) -> Thumbnail | None:
        alert_id = latest_alert_id(self._store, camera_id)
        if alert_id is None:
            return None
        with self._lock:
            jpeg = self._cache.get(alert_id)
        if jpeg is None:
            snapshot = self._store.snapshot(alert_id)
            if snapshot is None:
                return None
            jpeg = scale_jpeg(snapshot)
            with self._lock:
                self._cache[alert_id] = jpeg
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return Thumbnail(jpeg, f'"alert-{alert_id}"')
