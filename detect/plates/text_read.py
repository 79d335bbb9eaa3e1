"""Reading a text line: PP-OCRv4's recogniser with a CTC decoder restricted to plate characters.

The recogniser sees a line 48 pixels high and outputs, for each of its time steps, a
probability for every character of its dictionary (over 6,000, mostly Chinese) and a blank.
A plate holds only ``0-9``, ``A-Z`` (read in either case), ``-`` and ``.``: the decoder keeps
only those columns (and the blank), takes the best at each step, drops repeats and blanks
(greedy CTC). A step whose best overall was a character outside the plate alphabet (a ``·``,
a Chinese character) is not forced into one: it reads as nothing.
The line's confidence is the mean probability of the characters kept; its ``weakest`` is the
lowest probability of one of its letters or digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detect.plates.text_lines import Image

HEIGHT = 48
MIN_WIDTH = 128
"""Lines are padded to at least this width. PaddleOCR pads to 320, but a plate row is about
2.5 times as wide as high (~120 pixels at height 48): padding it to 320 costs 2.5x the compute
for the same reads on our benchmark (plates_bench, crop_exact 71/75 either way)."""
PLATE_ALPHABET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.")
"""Lower case is read as upper case: the recogniser sometimes sees ``b`` in a ``B``."""


@dataclass(frozen=True, slots=True)
class LineText:
    """What the recogniser read on one line, and how sure it is (0..1)."""

    text: str
    confidence: float
    weakest: float = 1.0
    """The lowest probability of a letter or digit read (separators left out): one unsure
    character is enough to make a plate wrong, however sure the others are."""


class LineReader:
    """Reads text lines with the recognition ``session`` whose classes are ``characters``."""

    def __init__(self, session: Any, characters: tuple[str, ...]) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        keep = [0] + [i for i, c in enumerate(characters) if c in PLATE_ALPHABET]
        self._columns = np.array(keep, dtype=np.int64)
        self._characters = tuple(characters[i].upper() for i in keep)

    def read(self, lines: list[Image]) -> list[LineText]:
        """The text of each line image (BGR), in order, run as one batch."""
        if not lines:
            return []
        widths = [max(1, math.ceil(HEIGHT * im.shape[1] / im.shape[0])) for im in lines]
        batch = np.zeros((len(lines), 3, HEIGHT, max(MIN_WIDTH, *widths)), dtype=np.float32)
        for i, (image, width) in enumerate(zip(lines, widths, strict=True)):
            resized = cv2.resize(image, (width, HEIGHT)).astype(np.float32)
            batch[i, :, :, :width] = (resized / 127.5 - 1.0).transpose(2, 0, 1)
        scores = self._session.run(None, {self._input: batch})[0]
        return [self._decode(row) for row in scores]

    def _decode(self, scores: npt.NDArray[np.float32]) -> LineText:
        """Greedy CTC decoding of one line's (steps x classes) probabilities."""
        best_any = scores.argmax(axis=1)
        plate = scores[:, self._columns]
        best = plate.argmax(axis=1)
        text, probs, previous = [], [], 0
        for step, index in enumerate(best):
            foreign = best_any[step] != self._columns[index] and best_any[step] != 0
            if index not in (0, previous) and not foreign:
                text.append(self._characters[index])
                probs.append(float(plate[step, index]))
            previous = 0 if foreign else int(index)
        confidence = float(np.mean(probs)) if probs else 0.0
        weakest = min((p for c, p in zip(text, probs, strict=True) if c.isalnum()), default=1.0)
        return LineText("".join(text), confidence, weakest)
