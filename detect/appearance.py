"""What an object looks like, in numbers a search can use: its colours and an appearance
vector.

*Colours* are named (:data:`COLOURS`): each pixel of the crop's inner part (the box's
margins are mostly background) gets the name of its hue, or black, white or grey when it has
little colour, and a colour's *share* is the part of the pixels it names. An operator's "red
shirt" is a crop where red holds a good share (:data:`DOMINANT_SHARE`).

The *appearance vector* is what "more like this" compares: no small re-identification or
image model ships inside a pip package that runs without torch (the ones we found download
their weights at first use, which this station cannot), so it is the colour histogram the
issue allows as the fallback: hue x saturation x value histograms (8 x 3 x 3 bins) of the
upper and the lower half of the inner crop (a person's top and trousers, a vehicle's roof
and body), each normalised, concatenated and L2-normalised. Two sightings compare by their
dot product (cosine similarity, 1 for the same histogram). It tells a red jacket over jeans
from a navy one over black trousers across cameras; it does not tell two people dressed
alike apart, and a camera's white balance or night mode moves it.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Vector = npt.NDArray[np.float32]

COLOURS = (
    "red",
    "orange",
    "yellow",
    "green",
    "cyan",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "grey",
)
DOMINANT_SHARE = 0.15
"""A colour naming this share of the inner crop is one of the object's colours."""
HUE_NAMES = (
    (5, "red"),
    (18, "orange"),
    (33, "yellow"),
    (78, "green"),
    (96, "cyan"),
    (128, "blue"),
    (145, "purple"),
    (168, "pink"),
    (180, "red"),
)
"""OpenCV hue (0..179) upper bounds of each name, for well-lit coloured pixels."""
MIN_SATURATION = 70
DARK = 50
BRIGHT = 190
INNER = (0.1, 0.2)
"""The crop's inner part: this share of its height and width is cut off on every side."""
BINS = (8, 3, 3)
HUE_TURN = 180 // BINS[0] // 2
VECTOR_SIZE = 2 * BINS[0] * BINS[1] * BINS[2]


def inner(crop: Image) -> Image:
    """The middle of a crop, without the margins that are mostly background."""
    height, width = crop.shape[:2]
    dy, dx = int(height * INNER[0]), int(width * INNER[1])
    middle = crop[dy : height - dy, dx : width - dx]
    return middle if middle.size else crop


def colour_shares(crop: Image) -> dict[str, float]:
    """The share of the inner crop each named colour holds (the shares sum to 1; an empty
    crop has none)."""
    part = inner(crop)
    if part.size == 0:
        return {}
    hsv = cv2.cvtColor(part, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int16)
    hue, saturation, value = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    names = np.full(len(hsv), "", dtype=object)
    coloured = (saturation >= MIN_SATURATION) & (value >= DARK)
    lower = 0
    for upper, name in HUE_NAMES:
        names[coloured & (hue >= lower) & (hue < upper)] = name
        lower = upper
    brown = coloured & (hue < 25) & (value < 150) & (saturation >= MIN_SATURATION)
    names[brown & np.isin(names, ("orange", "red")) & (value < 110)] = "brown"
    plain = ~coloured
    names[plain & (value < DARK)] = "black"
    names[plain & (value >= BRIGHT) & (saturation < 40)] = "white"
    names[(names == "") & plain] = "grey"
    counts = {name: int(np.count_nonzero(names == name)) for name in COLOURS}
    total = sum(counts.values())
    return {name: count / total for name, count in counts.items() if count} if total else {}


def dominant(shares: dict[str, float]) -> list[str]:
    """The colours holding at least :data:`DOMINANT_SHARE`, the largest first."""
    named = [name for name, share in shares.items() if share >= DOMINANT_SHARE]
    return sorted(named, key=lambda name: -shares[name])


def appearance_vector(crop: Image) -> Vector:
    """The crop's appearance for "more like this" (unit length; zeros for an empty crop)."""
    part = inner(crop)
    if part.size == 0 or part.shape[0] < 2:
        return np.zeros(VECTOR_SIZE, np.float32)
    hsv = cv2.cvtColor(part, cv2.COLOR_BGR2HSV)
    # Reds lie on both ends of OpenCV's hue circle (0..179): turned by half a bin, one bin
    # holds them all.
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + HUE_TURN) % 180).astype(np.uint8)
    middle = hsv.shape[0] // 2
    halves = []
    for half in (hsv[:middle], hsv[middle:]):
        histogram = cv2.calcHist([half], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256])
        flat = histogram.astype(np.float32).ravel()
        halves.append(flat / max(float(flat.sum()), 1.0))
    vector = np.sqrt(np.concatenate(halves))  # Hellinger: small bins count, not only big ones
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def similarity(a: Vector, b: Vector) -> float:
    """Cosine similarity of two appearance vectors (1: alike)."""
    return float(np.dot(a, b))
