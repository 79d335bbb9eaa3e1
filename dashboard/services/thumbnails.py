"""Small recent pictures of each camera for the camera wall.

A camera has two kinds of picture:

* the **published thumbnail**: ingest writes ``<database folder>/thumbnails/<id>.jpg``
  every ``ingest.thumbnail_interval_s`` from a frame it decoded anyway
  (:mod:`ingest.thumbnail`), 320 px on its long side, replaced atomically;
* its latest **alert snapshot**, scaled down here (the only picture of a camera when ingest
  publishes none, ``thumbnail_interval_s: 0``, or has not yet).

:meth:`Thumbnails.latest` serves the published thumbnail while it is fresh (written within
:data:`STALE_AFTER_S`) without touching the store. A stale one (the camera is away, or
ingest stopped publishing) is still served, unless an alert snapshot is newer: the wall
always shows the newest picture there is, and says how old it is
(:meth:`Thumbnails.newest` gives the time without reading the picture, for the camera
list).

Reading is cheap on purpose, since a wall of 100+ cameras asks for every picture: a
file's bytes are read again only when its modification time or size changed, and alert
snapshots are scaled once. The ETag comes from the same facts (``"t-<mtime>-<size>"`` for
a file, ``"alert-<id>"`` for a snapshot), so an unchanged picture is a 304.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import cv2
import numpy as np

from common import alert_rows
from common.alert_query import latest_alert
from common.store import Store
from common.thumbnail_files import thumbnail_path

log = logging.getLogger(__name__)
WIDTH = 320
CACHE_SIZE = 512
STALE_AFTER_S = 300.0
"""A published thumbnail older than this no longer wins over a newer alert snapshot."""
JPEG_START = b"\xff\xd8"
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class PictureInfo:
    """Which picture of a camera is the newest, without its bytes."""

    etag: str
    taken_at: float
    """When it was taken, in epoch seconds: the file's time, or the alert's start."""
    alert_id: int | None = None
    """The alert whose snapshot it is; None for the published thumbnail."""


@dataclass(frozen=True, slots=True)
class Thumbnail:
    jpeg: bytes
    etag: str
    taken_at: float


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


def _file_info(stat: os.stat_result) -> PictureInfo:
    return PictureInfo(f'"t-{stat.st_mtime_ns:x}-{stat.st_size:x}"', stat.st_mtime)


class _Recent(Generic[K, V]):
    """A bounded map that forgets the least recently stored entry first."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class Thumbnails:
    """The newest picture per camera: the published thumbnail in ``folder``, else (or when
    an alert is newer than a stale one) the latest alert snapshot."""

    def __init__(self, store: Store, folder: Path | None = None) -> None:
        self._store = store
        self._folder = folder
        self._files: _Recent[str, Thumbnail] = _Recent()
        self._snapshots: _Recent[int, Thumbnail] = _Recent()

    def newest(self, camera_id: str) -> PictureInfo | None:
        """Which picture :meth:`latest` serves now (a stat and at most one index probe)."""
        stat = self._stat(camera_id)
        published = _file_info(stat) if stat is not None else None
        if published is not None and time.time() - published.taken_at < STALE_AFTER_S:
            return published
        alert = latest_alert(self._store, camera_id)
        snapshot = PictureInfo(f'"alert-{alert[0]}"', alert[1], alert[0]) if alert else None
        if published is None or snapshot is None:
            return published or snapshot
        return snapshot if snapshot.taken_at > published.taken_at else published

    def latest(self, camera_id: str) -> Thumbnail | None:
        """The newest picture of the camera, as JPEG with its ETag; None while it has none."""
        info = self.newest(camera_id)
        if info is None:
            return None
        if info.alert_id is None:
            return self._published(camera_id)
        return self._snapshot(info)

    def _path(self, camera_id: str) -> Path | None:
        if self._folder is None:
            return None
        try:
            return thumbnail_path(self._folder, camera_id)
        except ValueError:
            return None

    def _stat(self, camera_id: str) -> os.stat_result | None:
        path = self._path(camera_id)
        if path is None:
            return None
        try:
            return path.stat()
        except OSError:
            return None

    def _published(self, camera_id: str) -> Thumbnail | None:
        """The published file, read only when it changed since the last read.

        The file is opened first and its facts taken from the open file, so that a
        thumbnail replaced meanwhile cannot pair one picture's ETag with another's bytes.
        """
        path = self._path(camera_id)
        if path is None:
            return None
        try:
            with path.open("rb") as file:
                info = _file_info(os.fstat(file.fileno()))
                cached = self._files.get(camera_id)
                if cached is not None and cached.etag == info.etag:
                    return cached
                jpeg = file.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("thumbnail of camera %s unreadable: %s", camera_id, exc)
            return None
        if not jpeg.startswith(JPEG_START):
            return None
        thumbnail = Thumbnail(jpeg, info.etag, info.taken_at)
        self._files.put(camera_id, thumbnail)
        return thumbnail

    def _snapshot(self, info: PictureInfo) -> Thumbnail | None:
        """An alert's snapshot, scaled once."""
        assert info.alert_id is not None
        cached = self._snapshots.get(info.alert_id)
        if cached is not None:
            return cached
        snapshot = alert_rows.snapshot(self._store, info.alert_id)
        if snapshot is None:
            return None
        thumbnail = Thumbnail(scale_jpeg(snapshot), info.etag, info.taken_at)
        self._snapshots.put(info.alert_id, thumbnail)
        return thumbnail
