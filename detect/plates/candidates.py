"""Which crops of a camera's vehicle tracks are worth a plate read.

Reading every frame of every vehicle would cost the OCR tens of milliseconds per frame per
vehicle. A track is read on its best few pictures instead: a crop is offered when it beats
the best crop offered for the track so far by :data:`BETTER_BY` (a vehicle coming closer, or
sharper), at most :data:`MAX_OFFERS` times per track and not more often than every
:data:`MIN_GAP_S`. Its score is the box's size (the side of a square of its area) times its
sharpness (the variance of the Laplacian, saturating at :data:`SHARP_ENOUGH`), halved when the
box touches the frame's edge (the plate may be outside it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from detect.detections import Detections
from detect.snapshots import Box, Image
from detect.tracking import LOST_AFTER_S

VEHICLES = ("car", "motorcycle", "bus", "truck")
"""The COCO classes whose tracks get a plate read."""
MAX_OFFERS = 4
BETTER_BY = 1.25
MIN_GAP_S = 0.3
MIN_SIDE = 24
"""Boxes narrower or lower than this (in the analysed frame's pixels) are not offered."""
SHARP_ENOUGH = 150.0
SHARPNESS_SIDE = 96
"""Sharpness is measured on the crop shrunk to at most this many pixels a side (cheap)."""


@dataclass(frozen=True, slots=True, eq=False)
class PlateOffer:
    """One crop of a vehicle track to read: the analysed ``image`` it is in (a reference; the
    core never writes to a frame it has taken), the vehicle's ``box`` in it, and when."""

    camera_id: str
    track_id: int
    class_name: str
    image: Image
    box: Box
    at: float
    score: float


@dataclass(slots=True)
class _TrackOffers:
    best: float
    offers: int
    last_at: float
    seen_at: float


def sharpness(image: Image, box: Box) -> float:
    """Variance of the Laplacian of the box's grey picture (0 for an empty box)."""
    x1, y1, x2, y2 = (round(v) for v in box)
    patch = image[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)]
    if patch.size == 0:
        return 0.0
    longest = max(patch.shape[:2])
    if longest > SHARPNESS_SIDE:
        factor = SHARPNESS_SIDE / longest
        size = (max(1, round(patch.shape[1] * factor)), max(1, round(patch.shape[0] * factor)))
        patch = np.asarray(cv2.resize(patch, size, interpolation=cv2.INTER_AREA), np.uint8)
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def crop_score(image: Image, box: Box) -> float:
    """How good a crop of ``box`` is for reading a plate (0: not worth it)."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    if width < MIN_SIDE or height < MIN_SIDE:
        return 0.0
    frame_h, frame_w = image.shape[:2]
    sharp = min(1.0, sharpness(image, box) / SHARP_ENOUGH)
    edge = 0.5 if x1 <= 1 or y1 <= 1 or x2 >= frame_w - 2 or y2 >= frame_h - 2 else 1.0
    return float(np.sqrt(width * height)) * (0.25 + 0.75 * sharp) * edge


class PlateCandidates:
    """The plate crops worth reading on one camera's frames (:meth:`offers`)."""

    def __init__(self, camera_id: str, class_names: tuple[str, ...]) -> None:
        self.camera_id = camera_id
        self._class_names = class_names
        self._vehicles = frozenset(i for i, name in enumerate(class_names) if name in VEHICLES)
        self._tracks: dict[int, _TrackOffers] = {}

    def offers(self, image: Image, seen: Detections, t: float) -> list[PlateOffer]:
        """The crops of this frame (taken at ``t``) to read, from its ``seen`` tracked rows."""
        found: list[PlateOffer] = []
        ids = seen.tracker_id
        if ids is not None:
            for row, track in enumerate(ids.tolist()):
                class_id = int(seen.class_id[row])
                if class_id in self._vehicles:
                    offer = self._consider(image, seen, row, int(track), t)
                    if offer is not None:
                        found.append(offer)
        gone = [k for k, state in self._tracks.items() if t - state.seen_at > LOST_AFTER_S]
        for track in gone:
            del self._tracks[track]
        return found

    def _consider(
        self, image: Image, seen: Detections, row: int, track: int, t: float
    ) -> PlateOffer | None:
        state = self._tracks.get(track)
        if state is not None:
            state.seen_at = t
            if state.offers >= MAX_OFFERS or t - state.last_at < MIN_GAP_S:
                return None
        x1, y1, x2, y2 = seen.xyxy[row].tolist()
        box = (x1, y1, x2, y2)
        score = crop_score(image, box)
        if score <= 0 or (state is not None and score < state.best * BETTER_BY):
            return None
        if state is None:
            self._tracks[track] = _TrackOffers(score, 1, t, t)
        else:
            state.best, state.offers, state.last_at = score, state.offers + 1, t
        name = self._class_names[int(seen.class_id[row])]
        return PlateOffer(self.camera_id, track, name, image, box, t, score)
