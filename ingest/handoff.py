"""Hand analysis frames to the detection core: pixels into the ring, a handle onto a queue.

The queue is bounded and its drop policy is *drop oldest*: when the detection core falls
behind, the oldest waiting frame is thrown away (and counted) so that what is analysed is
always recent. A full queue never blocks a camera reader.
"""

from __future__ import annotations

import queue
from multiprocessing.queues import Queue

from common.frame_ring import Frame, FrameRing
from common.messages import FrameRef
from ingest.metrics import FRAMES_ANALYSED, FRAMES_DROPPED
from ingest.motion import Verdict


class FrameHandoff:
    """Writes frames into a :class:`FrameRing` and posts their handles."""

    def __init__(self, ring: FrameRing, frames: Queue[FrameRef]) -> None:
        self._ring = ring
        self._frames = frames

    def offer(
        self, camera_id: str, frame: Frame, pts: float, captured_at: float, verdict: Verdict
    ) -> None:
        """Post one frame with the motion gate's ``verdict`` on it (why it was sent, and the
        boxes that moved); drops the oldest queued frame when the queue is full."""
        slot, seq = self._ring.write(frame)
        height, width = frame.shape[:2]
        ref = FrameRef(
            camera_id,
            self._ring.name,
            slot,
            seq,
            height,
            width,
            pts,
            captured_at,
            look=verdict.reason.value,
            moved=verdict.boxes,
        )
        for _ in range(3):
            try:
                self._frames.put_nowait(ref)
            except queue.Full:
                self._drop_oldest()
            else:
                FRAMES_ANALYSED.labels(camera_id).inc()
                return
        FRAMES_DROPPED.labels(camera_id, "queue_full").inc()

    def _drop_oldest(self) -> None:
        try:
            # A short wait, not get_nowait: the queue's feeder thread may still be moving
            # the frames just put into the pipe.
            victim = self._frames.get(timeout=0.05)
        except queue.Empty:
            return
        FRAMES_DROPPED.labels(victim.camera_id, "queue_full").inc()
