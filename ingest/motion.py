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

A frame passed for motion (or hold) also says *where* it moved: up to
:data:`~common.messages.MAX_MOVED_BOXES` boxes around the changed pixels, so that the detector
can look at crops around them instead of the whole picture. ``new_motion`` marks the frames on
which motion begins after stillness, so that ingest can sample faster for a moment
(:class:`ingest.decode.BurstSampler`) and a short event is seen often enough to be tracked.
Motion that only moves elsewhere on a busy camera starts no burst: the pipeline benchmark showed
such bursts (new places are frequent on busy cameras) raising the frames offered from 5 to 7 per
camera-second and starving the detector, for cameras already analysed all the time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike

from common.config import MotionConfig
from common.messages import MAX_MOVED_BOXES

Grey = npt.NDArray[np.uint8]
PixelBox = tuple[int, int, int, int]
"""x1, y1, x2, y2 in pixels of the small picture (x2 and y2 exclusive)."""
Contour = MatLike
Box = tuple[float, float, float, float]
"""x1, y1, x2, y2 as fractions of the picture's width and height (like ``FrameRef.moved``)."""

WHOLE_PICTURE: tuple[Box, ...] = ((0.0, 0.0, 1.0, 1.0),)
LIGHT_CHANGE_FRACTION = 0.35
LIGHT_CHANGE_RELATIVE = 0.2
LIGHT_SETTLE_S = 1.5
BACKGROUND_RATE = 0.05
MIN_THRESHOLD = 6.0
MIN_BLOB_PIXELS = 16
"""A blob whose box covers fewer pixels is a speck (after the 3x3 dilation, a lone pixel's
box covers 9)."""
JOIN_KERNELS = tuple(cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)) for k in (3, 9, 25, 49, 97))
"""The dilations that join blobs: the first always, the larger ones while there are too many."""
MAX_BLOBS = 12
NEAR_PX = 2
"""Boxes with at most this many pixels between them are merged."""


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
    """The gate's decision on one frame.

    ``changed`` is the fraction of the (unmasked) pixels that changed. ``boxes`` are where they
    changed, on MOTION and HOLD verdicts only (a HOLD may have small ones or none); FIRST and
    REFRESH imply a look at the whole picture and carry none, nor do LIGHT and STILL (a
    disabled gate passes every frame as MOTION of :data:`WHOLE_PICTURE`).
    ``new_motion`` is set on a MOTION verdict that starts an episode of motion after stillness
    (a STILL, LIGHT or REFRESH verdict, or the first frame).
    """

    reason: Reason
    changed: float
    boxes: tuple[Box, ...] = ()
    new_motion: bool = False

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
        self._watched_since: float | None = None
        self._min_blob = float(MIN_BLOB_PIXELS)
        self._in_motion = False

    def check(self, grey: Grey, t: float) -> Verdict:
        """Judge the frame taken at stream time ``t`` (seconds).

        A disabled gate passes every frame as motion of the whole picture.
        """
        if not self.config.enabled:
            self._last_motion = t  # never idle: no keyframes-only decoding either
            return Verdict(Reason.MOTION, 1.0, WHOLE_PICTURE)
        frame = cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)
        if self._background is None or self._background.shape != frame.shape:
            self._start(frame)
            return self._sent(Reason.FIRST, 1.0, t)
        assert self._valid is not None
        moving, relative_shift = self._compare(frame, self._background, self._valid)
        changed = cv2.countNonZero(moving) / self._valid_count if self._valid_count else 0.0
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
            return self._moved(Reason.MOTION, changed, moving, t)
        if t - self._last_motion < self.config.hold_s:
            return self._moved(Reason.HOLD, changed, moving, t)
        return self._refresh_or(Reason.STILL, changed, t)

    def _start(self, frame: npt.NDArray[np.float32]) -> None:
        """Seed the background and the mask with the first frame (or one of a new size).

        A blob's box must cover at least half the pixels that ``min_area`` asks of a whole
        frame, so that the boxes and the decision to pass a frame agree on what is too small
        to matter.
        """
        height, width = frame.shape
        self._background = frame
        self._valid = mask_for(self.config, width, height)
        self._valid_count = int(np.count_nonzero(self._valid))
        self._min_blob = max(MIN_BLOB_PIXELS, 0.5 * self.config.min_area * self._valid_count)
        self._in_motion = False

    def _compare(
        self,
        frame: npt.NDArray[np.float32],
        background: npt.NDArray[np.float32],
        valid: npt.NDArray[np.bool_],
    ) -> tuple[Grey, float]:
        """The pixels that changed after brightness compensation (1 where changed, 0 elsewhere
        and under the masks), and the picture's overall brightness change relative to the
        background's.

        The threshold shrinks in dark scenes, where a person is a small change in grey
        levels, but never below the sensor noise floor ``MIN_THRESHOLD``.
        """
        mask = valid.view(np.uint8)
        mean_frame = cv2.mean(frame, mask)[0]
        mean_background = cv2.mean(background, mask)[0]
        gain = (mean_background + 1.0) / (mean_frame + 1.0)
        threshold = max(MIN_THRESHOLD, min(self.config.threshold, 0.3 * mean_background + 3))
        difference = cv2.absdiff(frame * np.float32(gain), background)
        moving: Grey = (difference > threshold).view(np.uint8) & mask
        return moving, (mean_frame - mean_background) / (mean_background + 10.0)

    def _moved(self, reason: Reason, changed: float, moving: Grey, t: float) -> Verdict:
        """A MOTION or HOLD verdict with the boxes that moved, and whether the motion is new."""
        boxes = moving_boxes(moving, self._min_blob)
        new = reason == Reason.MOTION and not self._in_motion
        self._in_motion = True
        self._last_sent = t
        return Verdict(reason, changed, boxes, new)

    def _refresh_or(self, reason: Reason, changed: float, t: float) -> Verdict:
        """A verdict without motion (LIGHT or STILL); the episode of motion, if any, is over."""
        self._in_motion = False
        if t - self._last_sent >= self.config.refresh_s:
            return self._sent(Reason.REFRESH, changed, t)
        return Verdict(reason, changed)

    def _sent(self, reason: Reason, changed: float, t: float) -> Verdict:
        self._last_sent = t
        return Verdict(reason, changed)

    def idle_for(self, t: float) -> float:
        """Seconds without motion (for keyframes-only decoding when idle), counted from the
        first frame judged at the earliest: a camera that just (re)connected is not idle yet,
        or it would start on keyframes only and see a newcomer a GOP late."""
        if self._watched_since is None:
            self._watched_since = t
        return t - max(self._last_motion, self._watched_since)


def moving_boxes(moving: Grey, min_pixels: float) -> tuple[Box, ...]:
    """Boxes around the moving pixels (``moving`` is 1 where a pixel moved), as fractions.

    Blobs are the connected moving pixels after a 3x3 dilation, which joins the pieces of one
    outline up to 2 px apart and leaves a 1 px margin; a blob whose box covers fewer than
    ``min_pixels`` is a speck. Boxes that overlap or lie within ``NEAR_PX`` of each other are
    merged; then, while more than ``MAX_MOVED_BOXES`` remain, the pair whose union box adds
    the least area.

    Cost (timeit, best of 7, on the shared 2-core development VM): about 30 us for the mask of
    a 160x90 picture with five moving squares (two of them merged into one box), 10 us with
    nothing moving, against about 60 us for the rest of the gate's check of that frame. Only
    MOTION and HOLD verdicts pay it.
    """
    height, width = moving.shape
    merged = _merge(_blobs(moving, min_pixels), MAX_MOVED_BOXES)
    return tuple((x1 / width, y1 / height, x2 / width, y2 / height) for x1, y1, x2, y2 in merged)


def _blobs(moving: Grey, min_pixels: float) -> list[PixelBox]:
    """The boxes of the blobs of moving pixels, each covering at least ``min_pixels``.

    A busy picture (rain, leaves, a crowd) can break into hundreds of blobs: it is joined by
    ever larger dilations until at most ``MAX_BLOBS`` remain, so that merging stays cheap.
    Outer contours, not ``connectedComponentsWithStats``: the same boxes (less those of blobs
    inside another's hole, which its box holds anyway) at a fifth of the cost.
    """
    outlines, boxes = _outlines(cast(Grey, cv2.dilate(moving, JOIN_KERNELS[0])), min_pixels)
    for kernel in JOIN_KERNELS[1:]:
        if len(boxes) <= MAX_BLOBS:
            break
        filled = cv2.drawContours(np.zeros_like(moving), outlines, -1, 1, cv2.FILLED)
        outlines, boxes = _outlines(cast(Grey, cv2.dilate(filled, kernel)), 0.0)
    return boxes


def _outlines(mask: Grey, min_pixels: float) -> tuple[list[Contour], list[PixelBox]]:
    """The outer contours of the blobs of ``mask`` whose box covers at least ``min_pixels``,
    and those boxes."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    kept: list[Contour] = []
    boxes: list[PixelBox] = []
    for contour in contours:
        x, y, width, height = cv2.boundingRect(contour)
        if width * height >= min_pixels:
            kept.append(contour)
            boxes.append((x, y, x + width, y + height))
    return kept, boxes


def _merge(boxes: list[PixelBox], limit: int) -> list[PixelBox]:
    """Merge boxes that overlap or nearly touch, then the least wasteful pairs down to ``limit``.

    One pair at a time, because a union box may now overlap a third: near pairs first, and
    among them (or, once none is near, among all) the pair whose union adds the least area.
    Plain Python: for the few boxes of a real scene it is several times faster than numpy.
    """
    while len(boxes) > 1:
        (far, _), first, second = min(
            (_cost(a, b), i, j) for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2)
        )
        if far and len(boxes) <= limit:
            break
        boxes[first] = _union(boxes[first], boxes[second])
        del boxes[second]
    return boxes


def _cost(a: PixelBox, b: PixelBox) -> tuple[bool, int]:
    """Whether two boxes lie more than ``NEAR_PX`` apart, and the area their union box adds
    to their own (negative when they overlap much)."""
    gap = max(max(a[0], b[0]) - min(a[2], b[2]), max(a[1], b[1]) - min(a[3], b[3]))
    x1, y1, x2, y2 = _union(a, b)
    waste = (x2 - x1) * (y2 - y1) - _area(a) - _area(b)
    return gap > NEAR_PX, waste


def _union(a: PixelBox, b: PixelBox) -> PixelBox:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _area(box: PixelBox) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def small_grey(luma: Grey, width: int = 160) -> Grey:
    """Downscale a luma plane to ``width`` pixels wide.

    Bilinear, not area averaging: at non-integer ratios OpenCV's INTER_AREA costs ~0.9 ms
    for a 768x576 picture against ~35 us, and the gate blurs the result anyway.
    """
    height = max(2, round(luma.shape[0] * width / luma.shape[1]))
    return cast(Grey, cv2.resize(luma, (width, height), interpolation=cv2.INTER_LINEAR))
