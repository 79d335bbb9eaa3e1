"""The newest analysis frame of every camera, read straight from the ingest rings.

Ingest publishes each camera's newest frame in a shared-memory ring (:mod:`common.frame_ring`);
nothing queues. This module is the detection core's side: it looks at the rings' *latest*
words to see which cameras have a frame it has not taken, and copies a frame's pixels out only
when the core takes it for analysis. A frame that a newer one replaced before the core took
its camera was never copied; it is counted as ``superseded`` when the newer one is taken (the
ring's sequence numbers say how many were skipped). Frames published while no core ran (its
predecessor died, or it was starting) are counted as ``detector_down`` when this core first
takes the camera: the ring keeps the last sequence number its predecessor took.

One thread uses a :class:`LatestFrames`: there is no drain thread and no lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from common.frame_ring import Frame, FrameRing, StaleSlotError
from common.messages import FrameRef
from detect.metrics import FRAMES_DROPPED

log = logging.getLogger(__name__)

POLL_S = 0.005
"""How often a waiting core looks at the rings: at most this much latency, for a few
microseconds of work per look."""
ATTACH_EVERY_S = 1.0
ACTIVE_WITHIN_S = 2.0
"""A camera counts as active (it is worth waiting for) if a frame came this recently."""


@dataclass(frozen=True, slots=True, eq=False)
class PendingFrame:
    """A frame handle and the pixels copied out of its ring slot."""

    ref: FrameRef
    image: Frame


class _Ring:
    """One attached ring and what this core has seen and taken of its cameras."""

    def __init__(self, ring: FrameRing) -> None:
        self.ring = ring
        self.seen = ring.latest()
        self.taken = ring.taken()
        self.at_start = self.seen.copy()
        """The newest frames when this core began to read: those it skips up to there were
        published while no core ran (or before this one started)."""


class LatestFrames:
    """Which cameras have a frame waiting, and their frames on demand."""

    def __init__(self, rings: Sequence[str]) -> None:
        self._names = list(rings)
        self._rings: dict[str, _Ring] = {}
        self._where: dict[str, tuple[_Ring, int]] = {}
        self._arrived: dict[str, float] = {}
        self._attach_at = 0.0
        self.offered = 0
        """Frames published by ingest since this core started looking."""
        self.superseded = 0
        """Frames replaced by a newer one of the same camera before they were taken."""
        self._attach()

    def _attach(self) -> None:
        self._attach_at = time.monotonic() + ATTACH_EVERY_S
        for name in self._names:
            if name in self._rings:
                continue
            try:
                ring = _Ring(FrameRing.attach(name))
            except FileNotFoundError:
                continue
            self._rings[name] = ring
            for index, camera in enumerate(ring.ring.cameras):
                self._where[camera] = (ring, index)
            log.info("reading frame ring %s (%d cameras)", name, len(ring.ring.cameras))

    def poll(self) -> list[str]:
        """Look at the rings: note arrivals; returns the cameras with a frame not yet taken."""
        if len(self._rings) < len(self._names) and time.monotonic() >= self._attach_at:
            self._attach()
        now = time.monotonic()
        waiting: list[str] = []
        for ring in self._rings.values():
            latest = ring.ring.latest()
            new: npt.NDArray[np.bool_] = latest > ring.seen
            if new.any():
                self.offered += int((latest - ring.seen)[new].sum())
                ring.seen = latest
                for index in np.flatnonzero(new).tolist():
                    self._arrived[ring.ring.cameras[index]] = now
            waiting.extend(ring.ring.cameras[i] for i in np.flatnonzero(latest > ring.taken))
        return waiting

    def wait_for(self, count: int, timeout_s: float) -> list[str]:
        """Poll until ``count`` cameras have a frame waiting, or ``timeout_s``; the waiting ones."""
        deadline = time.monotonic() + timeout_s
        while True:
            waiting = self.poll()
            if len(waiting) >= count or time.monotonic() >= deadline:
                return waiting
            time.sleep(POLL_S)

    def active_cameras(self) -> int:
        """How many cameras published a frame in the last :data:`ACTIVE_WITHIN_S`."""
        oldest = time.monotonic() - ACTIVE_WITHIN_S
        return sum(1 for at in self._arrived.values() if at >= oldest)

    def newest(self, cameras: Iterable[str]) -> list[FrameRef]:
        """The handles of the newest frames of ``cameras`` (no pixels), marking them taken.

        Frames skipped since the camera was last taken are counted: ``superseded``, or
        ``detector_down`` for those published before this core began to read."""
        refs = []
        for camera in cameras:
            ring, index = self._where[camera]
            ref = self._newest(ring, index)
            if ref is None:
                continue
            taken, at_start = int(ring.taken[index]), int(ring.at_start[index])
            down = min(at_start, ref.seq - 1) - taken
            if down > 0:
                FRAMES_DROPPED.labels(camera, "detector_down").inc(down)
            superseded = ref.seq - 1 - max(taken, at_start)
            if superseded > 0:
                FRAMES_DROPPED.labels(camera, "superseded").inc(superseded)
                self.superseded += superseded
            if ref.seq > ring.seen[index]:
                self.offered += ref.seq - int(ring.seen[index])
                ring.seen[index] = ref.seq
            ring.taken[index] = ref.seq
            ring.ring.mark_taken(index, ref.seq)
            refs.append(ref)
        return refs

    @staticmethod
    def _newest(ring: _Ring, index: int) -> FrameRef | None:
        for _ in range(3):
            seq = int(ring.ring.latest()[index])
            if seq <= ring.taken[index]:
                return None
            try:
                return ring.ring.ref(index, seq)
            except StaleSlotError:
                continue  # the writer published again meanwhile: read the newer one
        return None

    def copy(self, ref: FrameRef) -> Frame | None:
        """The pixels of ``ref``, or None (counted ``overwritten``) if its slot was reused."""
        ring, _ = self._where[ref.camera_id]
        try:
            return ring.ring.read(ref)
        except StaleSlotError:
            FRAMES_DROPPED.labels(ref.camera_id, "overwritten").inc()
            return None

    def note_moving_track(self, camera_id: str, at: float) -> None:
        """Tell ingest that ``camera_id`` had a moving track at wall time ``at``."""
        where = self._where.get(camera_id)
        if where is not None:
            where[0].ring.note_moving_track(where[1], at)

    def close(self) -> None:
        for ring in self._rings.values():
            ring.ring.close()
        self._rings.clear()
        self._where.clear()
