"""Text lines in a crop: PP-OCRv4's DBNet text detector, run and decoded.

DBNet outputs, for each pixel, the probability that it lies inside a text line whose outline
was shrunk during training. We threshold that map, take each connected region's minimum-area
rectangle, keep it when the mean probability inside is high enough, and grow it back by the
distance the training shrank it (``area * unclip / perimeter``, the Vatti clipping distance,
which for a rectangle needs no polygon library). Each line is then cut out of the crop upright
(a perspective warp of the rotated rectangle), ready for the recogniser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

PIXEL_THRESHOLD = 0.3
"""A pixel is text when its probability is above this (PaddleOCR's ``thresh``)."""
BOX_THRESHOLD = 0.5
"""A region is a line when its mean probability is above this (PaddleOCR's ``box_thresh``)."""
UNCLIP_RATIO = 1.6
MAX_REGIONS = 40
"""Only the largest regions are looked at: a plate is among the larger text of a vehicle, and a
busy picture (foliage, noise) must not cost hundreds of recogniser runs."""
MIN_SIDE = 4.0
"""Regions thinner than this (in model pixels) are specks, not text."""


@dataclass(frozen=True, slots=True)
class TextLine:
    """One detected line: its upright image, its corners in the crop (4 x 2, clockwise from
    top-left) and the detector's mean probability inside it."""

    image: Image
    corners: npt.NDArray[np.float32]
    score: float

    @property
    def top(self) -> float:
        """The highest y of the line."""
        return float(self.corners[:, 1].min())

    @property
    def bottom(self) -> float:
        """The lowest y of the line."""
        return float(self.corners[:, 1].max())

    @property
    def left(self) -> float:
        """The leftmost x of the line."""
        return float(self.corners[:, 0].min())

    @property
    def right(self) -> float:
        """The rightmost x of the line."""
        return float(self.corners[:, 0].max())


def model_input(crop: Image, side: int) -> tuple[npt.NDArray[np.float32], float, float]:
    """``crop`` resized so its longer side is ``side`` (both sides multiples of 32, as the
    network's strides need), normalised to [-1, 1], as a 1 x 3 x H x W tensor; and the x and y
    scales from model pixels back to crop pixels."""
    h, w = crop.shape[:2]
    scale = side / max(h, w)
    in_h = max(32, round(h * scale / 32) * 32)
    in_w = max(32, round(w * scale / 32) * 32)
    resized = cv2.resize(crop, (in_w, in_h)).astype(np.float32)
    tensor = (resized / 127.5 - 1.0).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(tensor), w / in_w, h / in_h


def region_boxes(
    probability: npt.NDArray[np.float32],
) -> list[tuple[npt.NDArray[np.float32], float]]:
    """The text rectangles of a probability map: (4 x 2 corners in map pixels, mean score)."""
    mask = cv2.dilate((probability > PIXEL_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes: list[tuple[npt.NDArray[np.float32], float]] = []
    largest = sorted(contours, key=cv2.contourArea, reverse=True)[:MAX_REGIONS]
    for contour in largest:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < MIN_SIDE / 2:
            continue
        x, y, w, h = cv2.boundingRect(contour)
        region = np.zeros((h, w), np.uint8)
        cv2.drawContours(region, [contour - np.array([x, y])], -1, 1, thickness=-1)
        score = float(probability[y : y + h, x : x + w][region > 0].mean())
        if score < BOX_THRESHOLD:
            continue
        grow = rw * rh * UNCLIP_RATIO / (2 * (rw + rh))
        rect = ((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle)
        if min(rect[1]) < MIN_SIDE:
            continue
        boxes.append((order_corners(np.asarray(cv2.boxPoints(rect), np.float32)), score))
    return boxes


def order_corners(points: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The 4 corners as top-left, top-right, bottom-right, bottom-left."""
    by_x = points[np.argsort(points[:, 0])]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1])]
    top_right, bottom_right = right[np.argsort(right[:, 1])]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)


def cut_upright(crop: Image, corners: npt.NDArray[np.float32]) -> Image:
    """The quadrilateral ``corners`` of ``crop`` warped to an upright rectangle; a line taller
    than wide (text running down) is turned to run left to right."""
    width = round(
        max(np.linalg.norm(corners[0] - corners[1]), np.linalg.norm(corners[3] - corners[2]))
    )
    height = round(
        max(np.linalg.norm(corners[0] - corners[3]), np.linalg.norm(corners[1] - corners[2]))
    )
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    warp = cv2.getPerspectiveTransform(corners, target)
    warped = cv2.warpPerspective(
        crop, warp, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    line = np.asarray(warped, dtype=np.uint8)
    if height >= 1.5 * width:
        return np.ascontiguousarray(np.rot90(line))
    return line


def find_lines(session: Any, crop: Image, side: int) -> list[TextLine]:
    """The text lines of a BGR ``crop``, found at ``side`` pixels on the longer side."""
    tensor, sx, sy = model_input(crop, side)
    probability = session.run(None, {session.get_inputs()[0].name: tensor})[0][0, 0]
    h, w = crop.shape[:2]
    lines = []
    for corners, score in region_boxes(probability):
        scaled = corners * np.array([sx, sy], dtype=np.float32)
        scaled[:, 0] = scaled[:, 0].clip(0, w - 1)
        scaled[:, 1] = scaled[:, 1].clip(0, h - 1)
        if min(np.ptp(scaled[:, 0]), np.ptp(scaled[:, 1])) < 2:
            continue
        lines.append(TextLine(cut_upright(crop, scaled), scaled, score))
    return lines
