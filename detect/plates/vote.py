"""One plate per track: the reads of a track's best crops, voted.

Each read votes for its normalised text with its confidence; the text with the most votes
wins. The track's confidence is the winner's share of all votes times its mean confidence, so
three agreeing reads at 0.9 beat one at 0.99, and a track whose reads disagree says so. Crops
that gave no read (None) count as votes for nothing: they lower the share, not the winner.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from detect.plates.reader import PlateRead
from detect.plates.text_lines import Image


@dataclass(frozen=True, slots=True)
class TrackPlate:
    """A track's plate: the text, the vote's confidence (0..1), how many reads agreed out of
    how many crops, and the picture of the surest agreeing read."""

    text: str
    confidence: float
    agreeing: int
    crops: int
    crop: Image


class PlateVote:
    """Collects the reads of one track (:meth:`add`) and says its plate (:meth:`result`)."""

    def __init__(self, miss_weight: float = 0.5) -> None:
        if not 0.0 <= miss_weight <= 1.0:
            raise ValueError(f"miss_weight must be in [0, 1], got {miss_weight}")
        self._miss_weight = miss_weight
        self._votes: defaultdict[str, list[PlateRead]] = defaultdict(list)
        self._crops = 0

    def add(self, read: PlateRead | None) -> None:
        """One crop's read, or None when the crop gave none."""
        self._crops += 1
        if read is not None:
            self._votes[read.text].append(read)

    def result(self) -> TrackPlate | None:
        """The track's plate, or None when no crop gave a read."""
        if not self._votes:
            return None
        weights = {text: sum(r.confidence for r in reads) for text, reads in self._votes.items()}
        text = max(weights, key=lambda t: (weights[t], len(self._votes[t])))
        reads = self._votes[text]
        misses = self._crops - sum(len(r) for r in self._votes.values())
        share = weights[text] / (sum(weights.values()) + self._miss_weight * misses)
        best = max(reads, key=lambda r: r.confidence)
        confidence = share * weights[text] / len(reads)
        return TrackPlate(text, confidence, len(reads), self._crops, best.crop)
