"""Hand analysis frames to the detection core: each becomes its camera's newest in the ring.

There is no queue: publishing a frame replaces the camera's previous one, which the core
either took already or will never copy (it counts those as superseded). A camera reader
therefore never waits for analysis, whatever the core does, including not running at all.
The core writes back when it last saw a moving track on a camera; :meth:`moving_track_seen`
lets the reader keep such a camera fully decoded.
"""

from __future__ import annotations

from common.frame_ring import Frame, FrameRing
from ingest.metrics import FRAMES_ANALYSED
from ingest.motion import Verdict


class FrameHandoff:
    """Publishes frames in a :class:`FrameRing` that serves the reader's cameras."""

    def __init__(self, ring: FrameRing) -> None:
        self._ring = ring

    def offer(
        self, camera_id: str, frame: Frame, pts: float, captured_at: float, verdict: Verdict
    ) -> None:
        """Publish one frame with the motion gate's ``verdict`` on it (why it was sent, and the
        boxes that moved)."""
        index = self._ring.index(camera_id)
        self._ring.write(
            index, frame, pts, captured_at, look=verdict.reason.value, moved=verdict.boxes
        )
        FRAMES_ANALYSED.labels(camera_id).inc()

    def moving_track_seen(self, camera_id: str) -> float:
        """Wall time the detection core last saw a moving track on the camera (0: never)."""
        return self._ring.moving_track_seen(self._ring.index(camera_id))
