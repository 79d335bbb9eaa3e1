"""Tamper detection: a camera that is covered, defocused, turned away or frozen.

Each check runs on the same small grey picture as the motion gate and compares the camera
with itself: its own sharpness baseline, its own reference scene. A condition must hold
for ``debounce_s`` before it is reported, and it is reported once until it clears, so a
passing bus in front of the lens or a light switched off does not raise an alarm.

- **covered / black**: the picture is nearly uniform (a hand, tape, a lens cap, or no
  signal painted black): its standard deviation is below the sensor's noise level.
- **defocused / blurred**: sharpness (variance of the Laplacian relative to the picture's
  own contrast, so it does not depend on brightness) falls well below the camera's
  baseline, which is learnt while the picture is normal.
- **moved**: the edges of the scene no longer line up with the reference edges learnt
  at start (correlation of gradient maps, which is robust to light changes).
- **frozen**: consecutive pictures are identical to the last grey level while packets
  keep arriving: a real sensor always has some noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from ingest.motion import Grey

UNIFORM_STD = 4.0
BLUR_RATIO = 0.35
MOVED_CORRELATION = 0.35
FROZEN_MAX_DIFF = 1
LEARN_S = 10.0


class Tamper(StrEnum):
    COVERED = "tamper_covered"
    BLURRED = "tamper_blurred"
    MOVED = "tamper_moved"
    FROZEN = "tamper_frozen"


def sharpness(picture: npt.NDArray[np.float32]) -> float:
    """Variance of the Laplacian over variance of the picture (brightness-invariant)."""
    contrast = float(picture.var())
    if contrast < 1.0:
        return 0.0
    return float(cv2.Laplacian(picture, cv2.CV_32F).var()) / contrast


def edges(picture: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Gradient magnitude, zero-mean and unit-norm, for correlation with a reference."""
    gx = cv2.Sobel(picture, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(picture, cv2.CV_32F, 0, 1)
    magnitude = cast(npt.NDArray[np.float32], cv2.magnitude(gx, gy))
    magnitude -= magnitude.mean()
    norm = float(np.linalg.norm(magnitude))
    return magnitude / norm if norm > 0 else magnitude


@dataclass(slots=True)
class _Condition:
    since: float | None = None
    reported: bool = False


@dataclass(slots=True)
class TamperDetector:
    """One camera's tamper checks; :meth:`check` returns the conditions newly confirmed
    and :attr:`active` holds every condition currently reported."""

    debounce_s: float = 10.0
    _started: float | None = None
    _sharpness: list[float] = field(default_factory=list)
    _reference: npt.NDArray[np.float32] | None = None
    _previous: Grey | None = None
    _conditions: dict[Tamper, _Condition] = field(
        default_factory=lambda: {kind: _Condition() for kind in Tamper}
    )

    @property
    def active(self) -> set[Tamper]:
        return {kind for kind, state in self._conditions.items() if state.reported}

    def check(self, grey: Grey, t: float) -> tuple[set[Tamper], set[Tamper]]:
        """Feed one picture; returns (newly confirmed, newly cleared) conditions."""
        picture = cv2.GaussianBlur(grey, (3, 3), 0).astype(np.float32)
        if self._started is None:
            self._started = t
        observed = self._observe(grey, picture, t)
        self._previous = grey
        return self._debounce(observed, t)

    def _observe(self, grey: Grey, picture: npt.NDArray[np.float32], t: float) -> set[Tamper]:
        observed: set[Tamper] = set()
        uniform = float(picture.std()) < UNIFORM_STD
        previous = self._previous
        if (
            previous is not None
            and previous.shape == grey.shape
            and not uniform
            and int(cv2.absdiff(grey, previous).max()) <= FROZEN_MAX_DIFF
        ):
            observed.add(Tamper.FROZEN)
        scene = edges(picture)
        assert self._started is not None
        if self._reference is None or t - self._started < LEARN_S:
            if not uniform:
                self._learn(scene, sharpness(picture))
            return observed
        reference_norm = float(np.linalg.norm(self._reference)) or 1.0
        lined_up = float((scene * self._reference).sum()) / reference_norm >= MOVED_CORRELATION
        if uniform:
            # A dark room keeps faint edges where the reference has them; a covered
            # lens or a black picture has none.
            if not lined_up:
                observed.add(Tamper.COVERED)
            return observed
        if sharpness(picture) < BLUR_RATIO * float(np.median(self._sharpness)):
            observed.add(Tamper.BLURRED)
        if not lined_up:
            observed.add(Tamper.MOVED)
        return observed

    def _learn(self, scene: npt.NDArray[np.float32], sharp: float) -> None:
        self._sharpness.append(sharp)
        if self._reference is None:
            self._reference = scene
        else:
            self._reference = self._reference * 0.9 + scene * 0.1

    def _debounce(self, observed: set[Tamper], t: float) -> tuple[set[Tamper], set[Tamper]]:
        confirmed, cleared = set(), set()
        for kind, state in self._conditions.items():
            if kind in observed:
                state.since = t if state.since is None else state.since
                if not state.reported and t - state.since >= self.debounce_s:
                    state.reported = True
                    confirmed.add(kind)
            else:
                state.since = None
                if state.reported:
                    state.reported = False
                    cleared.add(kind)
        return confirmed, cleared
