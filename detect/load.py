"""Say how the detector keeps up: effective analysis rate per camera, and a "degraded" flag.

When more frames arrive than the detector can analyse, the newest-frame-per-camera hand-off
(:mod:`detect.frames`) and the fair scheduler (:mod:`detect.scheduler`) lower every camera's
analysis rate to its share of what the detector manages. That is a controlled degradation,
but it must be visible: this module publishes

* ``matthan_detector_effective_fps{camera}``: frames analysed per second over the last
  :data:`WINDOW_S` seconds, for every configured camera (0 for one that sends nothing);
* ``matthan_detector_degraded``: 1 while more than :data:`ENTER_SHARE` of the frames offered in
  the window were lost to overload (superseded by a newer frame, or stale), back to 0 once the
  share falls below :data:`LEAVE_SHARE` (two thresholds, so that the flag does not flicker).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from detect.metrics import DEGRADED, EFFECTIVE_FPS

WINDOW_S = 10.0
ENTER_SHARE = 0.10
LEAVE_SHARE = 0.02
MIN_OFFERED = 10
"""Fewer frames than this in the window say nothing either way."""


class LoadMonitor:
    """Fed with what happens to frames; :meth:`publish` updates the gauges."""

    def __init__(self, cameras: Iterable[str]) -> None:
        self._analysed: dict[str, deque[float]] = {camera: deque() for camera in cameras}
        self._totals: deque[tuple[float, int, int]] = deque()
        """(time, frames offered so far, frames lost so far), one sample per publish."""
        self._lost = 0
        self.degraded = False
        DEGRADED.set(0)

    def analysed(self, camera: str, t: float) -> None:
        """One frame of ``camera`` was analysed at monotonic time ``t``."""
        self._analysed.setdefault(camera, deque()).append(t)

    def lost(self, count: int = 1) -> None:
        """Frames were dropped for being stale (superseded ones are counted by the caller)."""
        self._lost += count

    def publish(self, now: float, offered: int, superseded: int) -> None:
        """Update the gauges at monotonic time ``now`` from the running totals of arrivals."""
        for camera, times in self._analysed.items():
            while times and times[0] < now - WINDOW_S:
                times.popleft()
            EFFECTIVE_FPS.labels(camera).set(len(times) / WINDOW_S)
        self._totals.append((now, offered, superseded + self._lost))
        while len(self._totals) > 1 and self._totals[1][0] <= now - WINDOW_S:
            self._totals.popleft()
        _, offered_then, lost_then = self._totals[0]
        arrived, lost = offered - offered_then, superseded + self._lost - lost_then
        if arrived >= MIN_OFFERED:
            share = lost / arrived
            self.degraded = share > (LEAVE_SHARE if self.degraded else ENTER_SHARE)
        DEGRADED.set(int(self.degraded))
