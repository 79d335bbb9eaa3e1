"""The newest analysis frame of each camera, waiting for its turn in a batch.

Frames arrive from the ingest workers faster than the detector may take them. Keeping only the
newest frame per camera bounds what waits (one frame per camera), makes every batch hold at most
one frame of a camera, and means that, when the detector falls behind, a camera is analysed
less often but always on its latest picture. Each frame a newer one replaces is returned by
:meth:`PendingFrames.put` so that the caller can count it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from common.frame_ring import Frame
from common.messages import FrameRef

ACTIVE_WITHIN_S = 2.0
"""A camera counts as active (it is worth waiting for) if a frame came this recently."""


@dataclass(frozen=True, slots=True, eq=False)
class PendingFrame:
    """A frame handle and the pixels copied out of its ring slot."""

    ref: FrameRef
    image: Frame


class PendingFrames:
    """Newest frame per camera, shared by the thread that fills it and the one that batches."""

    def __init__(self) -> None:
        self._frames: dict[str, PendingFrame] = {}
        self._arrived: dict[str, float] = {}
        self._changed = threading.Condition()
        self.offered = 0
        """Frames put so far."""
        self.superseded = 0
        """Frames replaced by a newer one of the same camera before they were taken."""

    def put(self, frame: PendingFrame) -> PendingFrame | None:
        """Queue ``frame``; returns the older frame of the same camera it replaced, if any."""
        camera = frame.ref.camera_id
        with self._changed:
            older = self._frames.get(camera)
            self._frames[camera] = frame
            self._arrived[camera] = time.monotonic()
            self.offered += 1
            self.superseded += older is not None
            self._changed.notify()
        return older

    def wait_for(self, count: int, timeout_s: float) -> int:
        """Wait until ``count`` cameras have a frame waiting, or ``timeout_s``; how many have."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._frames) >= count, timeout_s)
            return len(self._frames)

    def cameras(self) -> list[str]:
        """The cameras that have a frame waiting, in arrival order of their first frame."""
        with self._changed:
            return list(self._frames)

    def active_cameras(self) -> int:
        """How many cameras delivered a frame in the last :data:`ACTIVE_WITHIN_S`."""
        oldest = time.monotonic() - ACTIVE_WITHIN_S
        with self._changed:
            return sum(1 for at in self._arrived.values() if at >= oldest)

    def take(self, cameras: Iterable[str]) -> list[PendingFrame]:
        """Remove and return the waiting frames of ``cameras``."""
        with self._changed:
            return [self._frames.pop(camera) for camera in cameras if camera in self._frames]

    def __len__(self) -> int:
        with self._changed:
            return len(self._frames)
