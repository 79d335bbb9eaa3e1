"""Which cameras someone watches live: one byte per camera, in memory every process shares.

The supervisor makes it (:meth:`WatchedCameras.create`) and hands it to the detection core
and the dashboard when it starts them. The dashboard sets a camera's flag while at least one
page draws that camera's detections over its live video; the core reads the flag for each
analysed frame and sends that frame's boxes (:class:`common.messages.FrameDetections`) only
for cameras that are watched, so a site of a hundred cameras pays nothing for the ones nobody
looks at.

The flags have no lock: the dashboard is their only writer, a byte is written whole, and a
reader that sees a change one frame late draws one frame more or less. A restarted dashboard
clears them all (:meth:`clear`), since the sockets of its predecessor are gone.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.context import SpawnContext

from common.channel import Channel
from common.messages import FrameDetections


class WatchedCameras:
    """Flags indexed by the camera's position in the site's camera list."""

    def __init__(self, camera_ids: Sequence[str], flags: ctypes.Array[ctypes.c_ubyte]) -> None:
        if len(flags) != len(camera_ids):
            raise ValueError(f"{len(flags)} flags for {len(camera_ids)} cameras")
        self._index = {camera_id: index for index, camera_id in enumerate(camera_ids)}
        self._flags = flags

    @classmethod
    def create(cls, context: SpawnContext, camera_ids: Sequence[str]) -> WatchedCameras:
        """Flags in shared memory, all clear; pass them to a process when it starts."""
        return cls(camera_ids, context.RawArray(ctypes.c_ubyte, len(camera_ids)))

    @classmethod
    def local(cls, camera_ids: Sequence[str]) -> WatchedCameras:
        """Flags in this process only (a dashboard or a core run without a supervisor)."""
        return cls(camera_ids, (ctypes.c_ubyte * len(camera_ids))())

    def is_watched(self, camera_id: str) -> bool:
        index = self._index.get(camera_id)
        return index is not None and self._flags[index] != 0

    def set(self, camera_id: str, watched: bool) -> None:
        index = self._index.get(camera_id)
        if index is not None:
            self._flags[index] = 1 if watched else 0

    def clear(self) -> None:
        for index in range(len(self._flags)):
            self._flags[index] = 0


@dataclass(frozen=True, slots=True, eq=False)
class DetectionsChannel:
    """How tracked boxes travel from the detection core to the dashboard.

    ``boxes`` is the ``overlay_boxes`` channel (:mod:`common.channel`): bounded, it drops the
    newest frame's boxes when full, since the next frame replaces them. Only the drawing over
    live video depends on it, never an alert. ``watched`` says which cameras to send.
    """

    boxes: Channel[FrameDetections]
    watched: WatchedCameras
