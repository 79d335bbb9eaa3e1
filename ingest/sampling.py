"""Pick analysis frames out of a stream at a steady rate, by presentation time."""

from __future__ import annotations


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


def scaled_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Scale so that the long side is at most ``long_side``; even sizes for the scaler."""
    scale = min(1.0, long_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
