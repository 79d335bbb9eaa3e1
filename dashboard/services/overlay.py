"""Tracked boxes of the cameras watched live: from the detection core's channel to the sockets.

A page that plays a camera live opens ``/ws/cameras/{id}/detections``
(:mod:`dashboard.routes.detections`) and draws what arrives over the video. While at least
one such socket is open for a camera, :class:`LiveDetections` keeps that camera's shared flag
set, and only then does the detection core send its boxes (:mod:`detect.overlay`). A pump
thread (:mod:`dashboard.services.pump`) moves them from the core's channel onto the event
loop, where
each socket of the camera gets them in a small queue of its own: a slow socket loses its
oldest frames (counted in ``matthan_dashboard_detections_dropped_total``), never the others'
and never the pump's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from common.messages import FrameDetections
from common.watching import WatchedCameras
from dashboard.metrics import DETECTIONS_DROPPED

SOCKET_QUEUE_SIZE = 4
"""Frames waiting for one socket; older ones are stale for drawing anyway."""


class LiveDetections:
    """The sockets of every watched camera, and the flags that tell the core who is watched.

    Use it from the event loop's thread only. It clears every flag when made: a dashboard
    that starts has no socket yet, whatever its predecessor left set.
    """

    def __init__(self, watched: WatchedCameras, queue_size: int = SOCKET_QUEUE_SIZE) -> None:
        self._watched = watched
        self._queue_size = queue_size
        self._sockets: dict[str, set[asyncio.Queue[FrameDetections]]] = {}
        watched.clear()

    def sockets(self, camera_id: str) -> int:
        """How many sockets draw ``camera_id`` now."""
        return len(self._sockets.get(camera_id, ()))

    def publish(self, frame: FrameDetections) -> None:
        for waiting in self._sockets.get(frame.camera_id, ()):
            if waiting.full():
                waiting.get_nowait()
                DETECTIONS_DROPPED.inc()
            waiting.put_nowait(frame)

    @asynccontextmanager
    async def watch(self, camera_id: str) -> AsyncIterator[asyncio.Queue[FrameDetections]]:
        """The frames of ``camera_id`` for one socket; the camera is watched meanwhile."""
        waiting: asyncio.Queue[FrameDetections] = asyncio.Queue(self._queue_size)
        sockets = self._sockets.setdefault(camera_id, set())
        sockets.add(waiting)
        self._watched.set(camera_id, True)
        try:
            yield waiting
        finally:
            sockets.discard(waiting)
            if not sockets:
                del self._sockets[camera_id]
                self._watched.set(camera_id, False)

    def close(self) -> None:
        """Nobody is watched any more (the dashboard stops)."""
        self._watched.clear()
