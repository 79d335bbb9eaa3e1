"""Collect analysis frames from every camera into fair batches for one inference call.

Ingest keeps each camera's newest frame in a shared-memory ring; :class:`detect.frames.LatestFrames`
says which cameras have one waiting. :meth:`Batcher.next_batch` waits until a frame is there,
then up to ``max_wait_s`` for the active cameras to fill the batch, lets the
:class:`detect.scheduler.FairScheduler` pick at most ``max_batch`` cameras, and copies their
newest frames out of the rings (only those: a frame replaced before its camera's turn is never
copied, and is counted as ``superseded``).

Frames older than ``stale_after_s`` are dropped and counted: analysing them would only raise
late alerts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from detect.frames import LatestFrames, PendingFrame
from detect.load import LoadMonitor
from detect.metrics import FRAMES_DROPPED, QUEUE_DEPTH
from detect.scheduler import FairScheduler

log = logging.getLogger(__name__)

PUBLISH_EVERY_S = 1.0


class Batcher:
    """Hands out fair batches of the cameras' newest frames."""

    def __init__(
        self,
        rings: Sequence[str],
        priorities: Mapping[str, int],
        max_batch: int,
        max_wait_s: float,
        stale_after_s: float,
    ) -> None:
        self.frames = LatestFrames(rings)
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.stale_after_s = stale_after_s
        self.load = LoadMonitor(priorities)
        self._scheduler = FairScheduler(priorities)
        self._waiting = 0
        self._published = 0.0

    def next_batch(self, idle_timeout_s: float = 0.5) -> list[PendingFrame]:
        """Up to ``max_batch`` fresh frames of distinct cameras; empty if none came in time."""
        waiting = self.frames.wait_for(1, idle_timeout_s)
        if not waiting:
            self._waiting = 0
            return []
        target = max(1, min(self.max_batch, self.frames.active_cameras()))
        if len(waiting) < target:
            waiting = self.frames.wait_for(target, self.max_wait_s)
        chosen = self._scheduler.choose(waiting, self.max_batch, time.monotonic())
        self._waiting = len(waiting) - len(chosen)
        return self._fresh(chosen)

    def _fresh(self, cameras: list[str]) -> list[PendingFrame]:
        """The newest frames of ``cameras`` young enough to analyse, copied out of the rings;
        the others are counted as stale and never copied."""
        oldest, now = time.time() - self.stale_after_s, time.monotonic()
        fresh = []
        for ref in self.frames.newest(cameras):
            if ref.captured_at < oldest:
                FRAMES_DROPPED.labels(ref.camera_id, "stale").inc()
                self.load.lost()
                continue
            image = self.frames.copy(ref)
            if image is None:
                self.load.lost()
                continue
            fresh.append(PendingFrame(ref, image))
            self.load.analysed(ref.camera_id, now)
        return fresh

    def publish_load(self) -> None:
        """Update the waiting-frames and load gauges, at most once per :data:`PUBLISH_EVERY_S`."""
        now = time.monotonic()
        if now - self._published < PUBLISH_EVERY_S:
            return
        self._published = now
        QUEUE_DEPTH.labels("pending").set(self._waiting)
        self.load.publish(now, self.frames.offered, self.frames.superseded)

    def close(self) -> None:
        """Detach from the rings."""
        self.frames.close()
