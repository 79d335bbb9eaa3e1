"""Keeps each ended track's best sighting in the store, for investigation search.

The core hands every ended track (:class:`~detect.sightings.EndedTrack`: its most confident
picture, when it was first and last seen) to :meth:`SightingKeeper.keep` and goes on; a thread
of its own, at a lower CPU priority than the core, cuts the crop, names its colours, computes
its appearance vector (:mod:`detect.appearance`), finds the zones its feet stood in, and
stores it (:mod:`common.sightings`). Its queue drops the oldest track when full, counted in
``matthan_sightings_dropped_total``; person and intrusion alerts never wait for it. At stop,
what is queued is kept before the thread ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from common import sightings
from common.config import CameraConfig
from common.sightings import NewSighting
from common.store import Store
from detect.appearance import appearance_vector, colour_shares
from detect.drop_oldest import DropOldestQueue
from detect.metrics import SIGHTINGS_DROPPED, SIGHTINGS_KEPT, SIGHTINGS_QUEUE_DEPTH
from detect.sightings import EndedTrack
from detect.snapshots import Image, crop, encode_jpeg
from detect.zones import PolygonZone

log = logging.getLogger(__name__)

NICE = 10
MIN_SIDE = 12
"""Boxes narrower or lower than this (pixels) are not kept: nothing to see in them."""
CROP_MARGIN = 0.08
MAX_CROP_SIDE = 256
"""Kept crops are shrunk to at most this many pixels on the longer side."""


@dataclass(frozen=True, slots=True, eq=False)
class TrackToKeep:
    """An ended track of ``camera_id`` whose sighting waits to be kept."""

    camera_id: str
    class_name: str
    ended: EndedTrack


def _dropped(item: TrackToKeep) -> None:
    SIGHTINGS_DROPPED.labels(item.camera_id).inc()


class SightingKeeper:
    """Stores the sightings of the ended tracks of ``cameras`` into ``store``."""

    def __init__(
        self,
        store: Store,
        cameras: Mapping[str, CameraConfig],
        class_names: tuple[str, ...],
        queue_size: int = 64,
    ) -> None:
        self.queue: DropOldestQueue[TrackToKeep] = DropOldestQueue(
            queue_size, _dropped, SIGHTINGS_QUEUE_DEPTH.set
        )
        self._store = store
        self._zones = {
            camera_id: [(zone.name, PolygonZone(zone)) for zone in camera.zones]
            for camera_id, camera in cameras.items()
        }
        self._class_names = class_names
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def keep(self, camera_id: str, ended: EndedTrack) -> None:
        """Queue an ended track (never blocks)."""
        name = self._class_names[ended.best.class_id]
        self.queue.put(TrackToKeep(camera_id, name, ended))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sighting-keeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Keep what is queued, then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.queue.close()

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # below the core: its alerts come first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        while True:
            item = self.queue.get(timeout=0.2)
            if item is None:
                if self._stop.is_set():
                    return
                continue
            try:
                self.store(item)
            except Exception:  # one bad sighting must not end the keeping for good
                log.exception("could not keep a sighting of %s", item.camera_id)

    def store(self, item: TrackToKeep) -> int | None:
        """Keep one ended track's sighting; returns its id (None: too small to keep)."""
        best = item.ended.best
        x1, y1, x2, y2 = best.box
        if x2 - x1 < MIN_SIDE or y2 - y1 < MIN_SIDE:
            return None
        picture = crop(best.image, best.box, CROP_MARGIN)
        exact = crop(best.image, best.box, 0.0)
        sighting = NewSighting(
            camera_id=item.camera_id,
            track_id=item.ended.track_id,
            class_name=item.class_name,
            confidence=best.confidence,
            first_seen=item.ended.first_seen,
            last_seen=item.ended.last_seen,
            best_at=best.at,
            box=best.box,
            zones=self._zones_of(item.camera_id, best.image, best.box),
            colours=colour_shares(exact),
            appearance=appearance_vector(exact),
            crop_jpeg=encode_jpeg(_shrunk(picture)),
        )
        sighting_id = sightings.add_sighting(self._store, sighting)
        SIGHTINGS_KEPT.labels(item.camera_id).inc()
        return sighting_id

    def _zones_of(
        self, camera_id: str, image: Image, box: tuple[float, float, float, float]
    ) -> tuple[str, ...]:
        """The camera's zones holding the box's feet (the middle of its bottom edge)."""
        height, width = image.shape[:2]
        feet = np.array([[(box[0] + box[2]) / 2, box[3]]], np.float32)
        return tuple(
            name
            for name, zone in self._zones.get(camera_id, [])
            if bool(zone.contains(feet, width, height)[0])
        )


def _shrunk(picture: Image) -> Image:
    longest = max(picture.shape[:2])
    if longest <= MAX_CROP_SIDE:
        return picture
    factor = MAX_CROP_SIDE / longest
    size = (max(1, round(picture.shape[1] * factor)), max(1, round(picture.shape[0] * factor)))
    return np.asarray(cv2.resize(picture, size, interpolation=cv2.INTER_AREA), np.uint8)
