"""Collect analysis frames from every camera into batches for one inference call.

A batch is flushed when it holds ``max_batch`` frames or ``max_wait_s`` after its first
frame arrived, whichever comes first. Frames older than ``stale_after_s`` are dropped and
counted: analysing them would only raise late alerts and push fresh frames further back.
"""

from __future__ import annotations

import queue
import time
from multiprocessing.queues import Queue

from common.messages import FrameRef
from detect.metrics import FRAMES_DROPPED


class Batcher:
    """Pulls :class:`FrameRef` handles off the hand-off queue in batches."""

    def __init__(
        self, frames: Queue[FrameRef], max_batch: int, max_wait_s: float, stale_after_s: float
    ) -> None:
        self._frames = frames
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.stale_after_s = stale_after_s

    def next_batch(self, idle_timeout_s: float = 0.5) -> list[FrameRef]:
        """Up to ``max_batch`` fresh frames; empty if nothing came within ``idle_timeout_s``."""
        try:
            first = self._frames.get(timeout=idle_timeout_s)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                ref = (
                    self._frames.get(timeout=remaining)
                    if remaining > 0
                    else (self._frames.get_nowait())
                )
            except queue.Empty:
                break
            batch.append(ref)
        return self._fresh(batch)

    def _fresh(self, batch: list[FrameRef]) -> list[FrameRef]:
        oldest = time.time() - self.stale_after_s
        fresh = []
        for ref in batch:
            if ref.captured_at < oldest:
                FRAMES_DROPPED.labels(ref.camera_id, "stale").inc()
            else:
                fresh.append(ref)
        return fresh
