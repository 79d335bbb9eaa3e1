"""One call per crop: find the plate's text, read it, normalise it, keep the best candidate.

The crop may be a plate or a whole vehicle: the text detector sees it at ``scale`` times its
size, kept between ``min_side`` and ``max_side`` pixels on the longer side (a small crop is
blown up to ``min_side``; a large vehicle crop is shrunk to ``max_side``, where a plate row is
still tens of pixels high). At 0.75 a plate row ~100 pixels high reaches the detector at ~75,
which it finds as reliably as at full size for about 30 % less work (plates_bench on the
shared 2-core machine: crop_exact 71/75 at 0.75 and at 1.0; p95 ~35 ms against ~50 ms).
All text lines are read in one recogniser batch; every candidate (a row, or two rows stacked)
that fits a plate format competes, and the one the recogniser is surest of wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detect.plates.formats import normalise_plate
from detect.plates.models import OcrModels
from detect.plates.rows import ReadLine, candidates
from detect.plates.text_lines import Image, find_lines
from detect.plates.text_read import LineReader

MIN_CONFIDENCE = 0.6
"""The least mean character probability of a plate read."""
MIN_CHARACTER = 0.4
"""The least probability of each of its letters and digits: on the benchmark's crops every
right read had all characters >= 0.47, and the one wrong read (``84-D1`` for ``84-B1``, the
series letter seen as ``0`` at 0.24) had one below. A plate with a guessed character is no
read: on a watch list, a wrong plate costs more than a missed one the track's other crops
may still give."""


@dataclass(frozen=True, slots=True)
class PlateRead:
    """A plate read on one crop: the normalised ``text`` (``75-H1 357.92``), the recogniser's
    ``confidence`` (0..1), the raw ``rows`` as read (top first), the plate's ``box`` in the crop
    (x0, y0, x1, y1) and its picture ``crop`` (a copy: the caller may reuse its frame)."""

    text: str
    confidence: float
    rows: tuple[str, ...]
    box: tuple[int, int, int, int]
    crop: Image


class PlateReader:
    """Reads the plate in BGR crops with the OCR ``models`` (opened on ``threads`` threads when
    not given). Not thread-safe: one reader per worker thread."""

    def __init__(
        self,
        models: OcrModels | None = None,
        *,
        threads: int = 1,
        scale: float = 0.75,
        min_side: int = 256,
        max_side: int = 640,
        min_confidence: float = MIN_CONFIDENCE,
        min_character: float = MIN_CHARACTER,
    ) -> None:
        if not 32 <= min_side <= max_side:
            raise ValueError(f"need 32 <= min_side <= max_side, got {min_side}, {max_side}")
        if not 0.0 < scale <= 4.0:
            raise ValueError(f"scale must be in (0, 4], got {scale}")
        if not 0.0 <= min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in [0, 1), got {min_confidence}")
        if not 0.0 <= min_character < 1.0:
            raise ValueError(f"min_character must be in [0, 1), got {min_character}")
        self._models = models or OcrModels.load(threads)
        self._lines = LineReader(self._models.recognition, self._models.characters)
        self._scale, self._min_side, self._max_side = scale, min_side, max_side
        self._min_confidence, self._min_character = min_confidence, min_character

    def read(self, crop: Image) -> PlateRead | None:
        """The plate in ``crop`` (H x W x 3 BGR uint8), or None when there is none that fits a
        Vietnamese format: an empty, tiny or plateless crop gives None, never an error."""
        best: PlateRead | None = None
        for candidate in candidates(self.lines(crop)):
            text = normalise_plate(candidate.texts)
            confidence = candidate.confidence
            if (
                text is None
                or confidence < self._min_confidence
                or candidate.weakest < self._min_character
            ):
                continue
            if best is None or confidence > best.confidence:
                x0, y0, x1, y1 = candidate.box
                best = PlateRead(
                    text,
                    confidence,
                    tuple(candidate.texts),
                    candidate.box,
                    crop[y0:y1, x0:x1].copy(),
                )
        return best

    def lines(self, crop: Image) -> list[ReadLine]:
        """Every text line of ``crop`` with what was read on it (lines with no plate character
        left out); none for a crop too small to hold text (under 8 pixels) or not BGR."""
        if crop.ndim != 3 or crop.shape[2] != 3 or min(crop.shape[:2]) < 8:
            return []
        side = int(np.clip(max(crop.shape[:2]) * self._scale, self._min_side, self._max_side))
        lines = find_lines(self._models.detection, crop, side)
        texts = self._lines.read([line.image for line in lines])
        return [ReadLine(ln, tx) for ln, tx in zip(lines, texts, strict=True) if tx.text]
