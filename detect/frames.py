"""Copy analysis frames out of the ingest workers' shared-memory rings."""

from __future__ import annotations

from common.frame_ring import Frame, FrameRing, StaleSlotError
from common.messages import FrameRef
from detect.metrics import FRAMES_DROPPED


class FrameReader:
    """Attaches to each ring the first time a frame from it arrives; one thread uses it."""

    def __init__(self) -> None:
        self._rings: dict[str, FrameRing] = {}

    def load(self, ref: FrameRef) -> Frame | None:
        """A private copy of the frame, or None (counted) if its slot was lost."""
        try:
            ring = self._ring(ref)
            return ring.read(ref.slot, ref.seq, ref.height, ref.width)
        except StaleSlotError:
            FRAMES_DROPPED.labels(ref.camera_id, "overwritten").inc()
        except FileNotFoundError:
            FRAMES_DROPPED.labels(ref.camera_id, "worker_gone").inc()
        return None

    def _ring(self, ref: FrameRef) -> FrameRing:
        ring = self._rings.get(ref.ring)
        if ring is None:
            ring = FrameRing.attach(ref.ring)
            self._rings[ref.ring] = ring
        return ring

    def close(self) -> None:
        for ring in self._rings.values():
            ring.close()
        self._rings.clear()
