"""Which cameras go into the next batch: weighted least-recently-served, so none starves.

Each waiting camera scores ``(now - last_served) * (1 + priority)`` and the highest scores win.
When the detector keeps up, every waiting camera is served every batch and the scores do not
matter. When it cannot, cameras take turns: a camera's score grows for as long as it waits, so
each is served within a bounded time, and a camera of priority ``p`` is served about ``1 + p``
times as often as one of priority 0. A camera never served before scores highest of all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


class FairScheduler:
    """Chooses cameras for batches; remembers when, and in which order, each was last served."""

    def __init__(self, priorities: Mapping[str, int]) -> None:
        self._weights = {camera: 1.0 + priority for camera, priority in priorities.items()}
        self._served: dict[str, tuple[float, int]] = {}
        """camera -> (time last served, serial number of that service)."""
        self._serial = 0

    def choose(self, waiting: Sequence[str], size: int, now: float) -> list[str]:
        """Up to ``size`` of the ``waiting`` cameras, best score first; marks them served.

        Equal scores (cameras served in the same batch) go in the order they were served
        then, so that the turns rotate instead of favouring the cameras listed first.
        """
        if size < 1:
            raise ValueError(f"batch size must be >= 1, got {size}")

        def order(camera: str) -> tuple[float, int]:
            served = self._served.get(camera)
            if served is None:
                return (-math.inf, -1)
            return (-(now - served[0]) * self._weights.get(camera, 1.0), served[1])

        chosen = sorted(waiting, key=order)[:size]
        for camera in chosen:
            self._serial += 1
            self._served[camera] = (now, self._serial)
        return chosen
