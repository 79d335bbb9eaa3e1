"""The motion gate: decide on a small grey picture whether a frame is worth a detection.

Most security cameras watch still scenes most of the time; running the detector on every
sampled frame of 100 cameras does not fit on a station PC. The gate keeps a slowly
adapting background of each camera and passes a frame when enough of it changed. Four
refinements keep it honest:

- **Masks** exclude regions that move without meaning (a clock overlay, trees).
- **Light changes** (a lamp switched on, clouds, auto-exposure) shift the whole picture:
  brightness is compensated before comparing, and a change of most of the picture at
  once is treated as light, not motion: the background is re-seeded instead.
- **Hold**: after motion, frames keep passing for ``hold_s`` so tracks can finish.
- **Refresh**: a frame passes every ``refresh_s`` whatever the gate says, so a person who
  stands still (and has melted into the background) is still looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from common.config import MotionConfig

Grey = npt.NDArray[np.uint8]
LIGHT_CHANGE_FRACTION = 0.35
LIGHT_CHANGE_RELATIVE = 0.2
LIGHT_SETTLE_S = 1.5
BACKGROUND_RATE = 0.05
MIN_THRESHOLD = 6.0


class Reason(StrEnum):
    """Why a frame was sent to the detector or held back."""

    FIRST = "first"
    MOTION = "motion"
    HOLD = "hold"
    REFRESH = "refresh"
    STILL = "still"
    LIGHT = "light_change"


SENT = frozenset({Reason.FIRST, Reason.MOTION, Reason.HOLD, Reason.REFRESH})


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's decision on one frame, with the fraction of pixels that changed."""

    reason: Reason
    changed: float

    @property
    def send(self) -> bool:
        return self.reason in SENT


def mask_for(config: MotionConfig, width: int, height: int) -> npt.NDArray[np.bool_]:
    """True where motion counts: everywhere except the configured mask polygons."""
    blocked = np.zeros((height, width), np.uint8)
    for polygon in config.masks:
        points = np.round(np.asarray(polygon) * [width, height]).astype(np.int32)
        cv2.fillPoly(blocked, [points], 1)
    valid: npt.NDArray[np.bool_] = blocked == 0
    return valid


class MotionGate:
    """One camera's gate; feed it every sampled frame's small grey picture in order."""

    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self._background: npt.NDArray[np.float32] | None = None
        self._valid: npt.NDArray[np.bool_] | None = None
        self._valid_count = 0
        self._last_motion = -1e18
        self._last_sent = -1e18
        self._last_light = -1e18

    def check(self, grey: Grey, t: float) -> Verdict:
        """Judge the frame taken at stream time ``t`` (seconds)."""
        if not self.config.enabled:
            return Verdict(Reason.MOTION, 1.0)
        frame = cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)
        if self._background is None or self._background.shape != frame.shape:
            self._background = frame
            self._valid = mask_for(self.config, frame.shape[1], frame.shape[0])
            self._valid_count = int(np.count_nonzero(self._valid))
            return self._sent(Reason.FIRST, 1.0, t)
        assert self._valid is not None
        changed, relative_shift = self._compare(frame, self._background, self._valid)
        light = changed >= LIGHT_CHANGE_FRACTION or abs(relative_shift) >= LIGHT_CHANGE_RELATIVE
        if light or t - self._last_light < LIGHT_SETTLE_S:
            # While the light changes and the camera's exposure settles, the background
            # follows the picture instead of reporting the whole scene as motion.
            self._last_light = t if light else self._last_light
            self._background = frame
            return self._refresh_or(Reason.LIGHT, changed, t)
        cv2.accumulateWeighted(frame, self._background, BACKGROUND_RATE)
        if changed >= self.config.min_area:
            self._last_motion = t
            return self._sent(Reason.MOTION, changed, t)
        if t - self._last_motion < self.config.hold_s:
            return self._sent(Reason.HOLD, changed, t)
        return self._refresh_or(Reason.STILL, changed, t)

    def _compare(
        self,
        frame: npt.NDArray[np.float32],
        background: npt.NDArray[np.float32],
        valid: npt.NDArray[np.bool_],
    ) -> tuple[float, float]:
        """Fraction of valid pixels that changed after brightness compensation, and the
        picture's overall brightness change relative to the background's.

        The threshold shrinks in dark scenes, where a person is a small change in grey
        levels, but never below the sensor noise floor ``MIN_THRESHOLD``.
        """
        mask = valid.view(np.uint8)
        mean_frame = cv2.mean(frame, mask)[0]
        mean_background = cv2.mean(background, mask)[0]
        gain = (mean_background + 1.0) / (mean_frame + 1.0)
        threshold = max(MIN_THRESHOLD, min(self.config.threshold, 0.3 * mean_background + 3))
        difference = cv2.absdiff(frame * np.float32(gain), background)
        moving = (difference > threshold).view(np.uint8) & mask
        total = self._valid_count
        changed = cv2.countNonZero(moving) / total if total else 0.0
        return changed, (mean_frame - mean_background) / (mean_background + 10.0)

    def _refresh_or(self, reason: Reason, changed: float, t: float) -> Verdict:
        if t - self._last_sent >= self.config.refresh_s:
            return self._sent(Reason.REFRESH, changed, t)
        return Verdict(reason, changed)

    def _sent(self, reason: Reason, changed: float, t: float) -> Verdict:
        self._last_sent = t
        return Verdict(reason, changed)

    def idle_for(self, t: float) -> float:
        """Seconds since the last motion (for keyframes-only decoding when idle)."""
        return t - self._last_motion


def small_grey(luma: Grey, width: int = 160) -> Grey:
    """Downscale a luma plane to ``width`` pixels wide.

    Bilinear, not area averaging: at non-integer ratios OpenCV's INTER_AREA costs ~0.9 ms
    for a 768x576 picture against ~35 us, and the gate blurs the result anyway.
    """
    height = max(2, round(luma.shape[0] * width / luma.shape[1]))
    return cast(Grey, cv2.resize(luma, (width, height), interpolation=cv2.INTER_LINEAR))
