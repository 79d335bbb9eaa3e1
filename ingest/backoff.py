"""Exponential backoff with full jitter, so that 100 cameras that dropped together do not
all knock on the network at the same instant when it comes back."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """``next()`` gives the delay before the next attempt; ``reset()`` after a success."""

    initial_s: float = 0.5
    cap_s: float = 30.0
    factor: float = 2.0
    attempts: int = 0
    _random: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        ceiling = min(self.cap_s, self.initial_s * self.factor**self.attempts)
        self.attempts += 1
        return self._random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0
