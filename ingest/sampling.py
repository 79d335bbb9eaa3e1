"""Pick analysis frames out of a stream by presentation time: at a steady rate, and faster
for a moment when motion starts."""

from __future__ import annotations

import math


class FrameSampler:
    """``due(t)`` says whether the frame at stream time ``t`` (seconds) is analysed.

    Frames are chosen on a grid of ``1/fps`` so that a 10 fps stream sampled at 5 fps
    gives every second frame. After a jump in time (a reconnect, a loop of the source) the
    grid restarts at the new time instead of letting a burst of frames through.
    """

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next: float | None = None

    def due(self, t: float) -> bool:
        tolerance = self.period * 0.1
        if self._next is None or t < self._next - 2 * self.period:
            self._next = t
        if t + tolerance < self._next:
            return False
        late = t - self._next
        self._next = self._next + self.period if late < self.period else t + self.period
        return True

    def restart(self, t: float) -> None:
        """Restart the grid at ``t``, as if the frame at ``t`` had just been taken."""
        self._next = t + self.period


class BurstSampler:
    """Samples at ``fps``, and at ``burst_fps`` for ``burst_s`` seconds after :meth:`burst`.

    When motion starts, the tracker gains most from a few quick looks: a newcomer is placed
    and given a direction within its first second instead of its first few seconds. A burst
    during a burst extends it. The faster grid never runs above the decoded rate: each
    decoded frame is taken at most once (the camera's decoding must not skip frames while
    :meth:`bursting`). A ``burst_fps`` no faster than ``fps``, or a ``burst_s`` of 0, never
    bursts. After the burst the steady grid restarts at the first frame due.
    """

    def __init__(self, fps: float, burst_fps: float, burst_s: float) -> None:
        self._steady = FrameSampler(fps)
        self._fast = FrameSampler(max(fps, burst_fps))
        self._burst_s = burst_s if burst_fps > fps else 0.0
        self._start = self._end = -math.inf

    def due(self, t: float) -> bool:
        """Whether the frame at stream time ``t`` (seconds) is analysed."""
        return self._fast.due(t) if self.bursting(t) else self._steady.due(t)

    def burst(self, t: float) -> bool:
        """Sample fast for ``burst_s`` from the frame at ``t`` on (that frame was taken);
        True if this starts a burst (False: one was on and is extended, or bursts are off)."""
        if self._burst_s <= 0.0:
            return False
        started = not self.bursting(t)
        if started:
            self._start = t
            self._fast.restart(t)
        self._end = t + self._burst_s
        return started

    def bursting(self, t: float) -> bool:
        """Whether ``t`` falls in a burst (a jump back in time, as when a source loops, ends it)."""
        return self._start <= t < self._end


def scaled_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Scale so that the long side is at most ``long_side``; even sizes for the scaler."""
    scale = min(1.0, long_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
