"""Collect analysis frames from every camera into fair batches for one inference call.

Two threads share the work:

* the *drain* thread empties the hand-off queue as fast as frames arrive, copies each frame out
  of its shared-memory slot (so that a slow batch never finds its slot overwritten) and keeps
  only the newest frame of each camera (:class:`detect.pending.PendingFrames`). The queue from
  ingest therefore stays nearly empty, and a camera reader never waits for the detector;
* the caller's thread asks :meth:`Batcher.next_batch` for a batch: it waits until a frame is
  there, then up to ``max_wait_s`` for the active cameras to fill the batch, then lets the
  :class:`detect.scheduler.FairScheduler` pick at most ``max_batch`` cameras, one frame each.

Frames older than ``stale_after_s`` are dropped and counted: analysing them would only raise
late alerts. Frames replaced by a newer one of the same camera are counted as ``superseded``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from multiprocessing.queues import Queue

from common.messages import FrameRef
from detect.frames import FrameReader
from detect.load import LoadMonitor
from detect.metrics import FRAMES_DROPPED, QUEUE_DEPTH
from detect.pending import PendingFrame, PendingFrames
from detect.scheduler import FairScheduler

log = logging.getLogger(__name__)

DRAIN_POLL_S = 0.2
PUBLISH_EVERY_S = 1.0


class BatcherError(RuntimeError):
    """The drain thread failed; the detection core cannot go on."""


class Batcher:
    """Pulls :class:`FrameRef` handles off the hand-off queue and hands out fair batches."""

    def __init__(
        self,
        frames: Queue[FrameRef],
        priorities: Mapping[str, int],
        max_batch: int,
        max_wait_s: float,
        stale_after_s: float,
    ) -> None:
        self._frames = frames
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.stale_after_s = stale_after_s
        self.pending = PendingFrames()
        self.load = LoadMonitor(priorities)
        self._scheduler = FairScheduler(priorities)
        self._reader = FrameReader()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._published = 0.0
        self._thread = threading.Thread(target=self._drain, name="detect-drain", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def next_batch(self, idle_timeout_s: float = 0.5) -> list[PendingFrame]:
        """Up to ``max_batch`` fresh frames of distinct cameras; empty if none came in time."""
        self._check_drain()
        if not self.pending.wait_for(1, idle_timeout_s):
            return []
        target = max(1, min(self.max_batch, self.pending.active_cameras()))
        self.pending.wait_for(target, self.max_wait_s)
        chosen = self._scheduler.choose(self.pending.cameras(), self.max_batch, time.monotonic())
        return self._fresh(self.pending.take(chosen))

    def _fresh(self, batch: list[PendingFrame]) -> list[PendingFrame]:
        """The frames young enough to analyse; the others are counted as stale."""
        oldest, now = time.time() - self.stale_after_s, time.monotonic()
        fresh = []
        for frame in batch:
            if frame.ref.captured_at < oldest:
                FRAMES_DROPPED.labels(frame.ref.camera_id, "stale").inc()
                self.load.lost()
            else:
                fresh.append(frame)
                self.load.analysed(frame.ref.camera_id, now)
        return fresh

    def publish_load(self) -> None:
        """Update the queue and load gauges, at most once per :data:`PUBLISH_EVERY_S`."""
        now = time.monotonic()
        if now - self._published < PUBLISH_EVERY_S:
            return
        self._published = now
        QUEUE_DEPTH.labels("handoff").set(self._frames.qsize())
        QUEUE_DEPTH.labels("pending").set(len(self.pending))
        self.load.publish(now, self.pending.offered, self.pending.superseded)

    def _drain(self) -> None:
        """Thread body: move frames from the hand-off queue into the pending set."""
        try:
            while not self._stop.is_set():
                try:
                    ref = self._frames.get(timeout=DRAIN_POLL_S)
                except queue.Empty:
                    continue
                image = self._reader.load(ref)
                if image is None:
                    continue
                older = self.pending.put(PendingFrame(ref, image))
                if older is not None:
                    FRAMES_DROPPED.labels(older.ref.camera_id, "superseded").inc()
        except BaseException as exc:
            log.exception("the frame drain thread failed")
            self._failure = exc
        finally:
            self._reader.close()

    def _check_drain(self) -> None:
        if self._failure is not None:
            raise BatcherError("the frame drain thread failed") from self._failure
        if (
            self._thread.ident is not None
            and not self._thread.is_alive()
            and not self._stop.is_set()
        ):
            raise BatcherError("the frame drain thread stopped")

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the drain thread and detach from the rings."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
