"""What rules consume (one tracked frame) and what they produce (events), plus the cooldown.

A rule never sees pixels: it gets the boxes of one analysed frame, each with its track id, and
answers with :class:`RuleEvent` values. ``START`` opens an alert, ``END`` closes the alert that
the same rule opened for the same track (or crowd episode), and ``SUPPRESSED`` says that the
rule would have fired but was still cooling down from its previous alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from common.config import AnyRule
from detect.detections import Detections

RuleConfig = AnyRule
Outline = tuple[tuple[int, int], ...]
"""A zone polygon or a line's two end points, in pixels of the analysed frame."""


@dataclass(frozen=True, slots=True)
class TrackedFrame:
    """One analysed frame as the rules see it: tracked boxes only, picture size, capture time."""

    detections: Detections
    """Every row has a ``tracker_id`` >= 0."""
    width: int
    height: int
    t: float
    seen: npt.NDArray[np.bool_] | None = None
    """Per row: whether the model found it in this frame (False: the track was held where it
    was last seen, because the model did not look there). None: every row was seen."""

    def hit(self, row: int) -> bool:
        """Whether row ``row`` is a real sighting (a hit) in this frame."""
        return self.seen is None or bool(self.seen[row])


class Phase(StrEnum):
    """Where an event stands in the life of an alert."""

    START = "start"
    END = "end"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True, slots=True)
class RuleEvent:
    """A rule's verdict about one track (or, for a crowd, one episode) at time ``at``.

    For ``START``, ``rows`` are the frame's detections that make the event (one per track
    rule, every member for a crowd), ``since`` is when the condition began (the track entered
    the zone, the crowd formed), and ``outline`` is the zone or line to draw on the snapshot.
    For ``END``, ``at`` is the last moment the condition held.
    """

    rule: RuleConfig
    phase: Phase
    track_id: int | None
    at: float
    since: float
    rows: tuple[int, ...] = ()
    outline: Outline = ()
    direction: str = ""
    """Line crossings: ``in`` or ``out``."""


class Cooldown:
    """At most one alert of a rule per ``seconds`` on one camera.

    :meth:`try_fire` at time ``t`` succeeds when nothing fired yet or the last success was at
    least ``seconds`` ago (exactly ``seconds`` later is allowed).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: float | None = None

    def try_fire(self, t: float) -> bool:
        if self._last is not None and t - self._last < self.seconds:
            return False
        self._last = t
        return True
