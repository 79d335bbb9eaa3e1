"""From read text lines to plate candidates: lines side by side form a row; a row alone, or a
row with the row just below it, is a candidate plate.

The detector may split one row in pieces (``51G-971.6`` and ``62``; ``B1`` and ``84``), so lines
that share most of their height and sit close left to right are joined, left first. A two-row
plate is two rows stacked: the lower starts within about a line height of the upper and the two
overlap horizontally. Every candidate is tried against the plate formats later; a crop yields
at most one plate (:mod:`detect.plates.reader` keeps the best), so the two rows of one plate
are never read as two plates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detect.plates.text_lines import TextLine
from detect.plates.text_read import LineText

SAME_ROW_OVERLAP = 0.5
"""Two lines are on one row when their vertical overlap is this share of the shorter one."""
SAME_ROW_GAP = 1.5
"""... and the horizontal gap between them is under this many line heights."""
STACK_GAP = 1.0
"""A row is under another when the vertical gap is under this many row heights ..."""
STACK_OVERLAP = 0.3
"""... and they overlap horizontally by this share of the narrower one."""


@dataclass(frozen=True, slots=True)
class ReadLine:
    """A detected line and what was read on it."""

    line: TextLine
    text: LineText


@dataclass(slots=True)
class Row:
    """Lines on one row, left to right."""

    lines: list[ReadLine] = field(default_factory=list)

    @property
    def top(self) -> float:
        """The highest y of its lines."""
        return min(r.line.top for r in self.lines)

    @property
    def bottom(self) -> float:
        """The lowest y of its lines."""
        return max(r.line.bottom for r in self.lines)

    @property
    def left(self) -> float:
        """The leftmost x of its lines."""
        return min(r.line.left for r in self.lines)

    @property
    def right(self) -> float:
        """The rightmost x of its lines."""
        return max(r.line.right for r in self.lines)

    @property
    def height(self) -> float:
        """Its height in crop pixels."""
        return self.bottom - self.top

    @property
    def text(self) -> str:
        """Its lines' texts, left to right."""
        return "".join(r.text.text for r in sorted(self.lines, key=lambda r: r.line.left))

    def accepts(self, read: ReadLine) -> bool:
        """Whether ``read`` lies on this row."""
        overlap = min(self.bottom, read.line.bottom) - max(self.top, read.line.top)
        shorter = min(self.height, read.line.bottom - read.line.top)
        gap = max(read.line.left - self.right, self.left - read.line.right, 0.0)
        return overlap >= SAME_ROW_OVERLAP * shorter and gap <= SAME_ROW_GAP * shorter


@dataclass(frozen=True, slots=True)
class Candidate:
    """One or two rows (top first) that might be a plate."""

    rows: tuple[Row, ...]

    @property
    def texts(self) -> list[str]:
        """Each row's text, top first."""
        return [row.text for row in self.rows]

    @property
    def confidence(self) -> float:
        """The recogniser's confidence over all its characters."""
        reads = [r.text for row in self.rows for r in row.lines]
        chars = sum(len(t.text) for t in reads)
        return sum(t.confidence * len(t.text) for t in reads) / chars if chars else 0.0

    @property
    def weakest(self) -> float:
        """The lowest probability of any of its letters and digits."""
        return min(r.text.weakest for row in self.rows for r in row.lines)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Its bounding box in the crop: x0, y0, x1, y1."""
        return (
            int(min(r.left for r in self.rows)),
            int(min(r.top for r in self.rows)),
            int(max(r.right for r in self.rows)) + 1,
            int(max(r.bottom for r in self.rows)) + 1,
        )


def group_rows(reads: list[ReadLine]) -> list[Row]:
    """The rows of ``reads``, top to bottom."""
    rows: list[Row] = []
    for read in sorted(reads, key=lambda r: (r.line.top + r.line.bottom) / 2):
        row = next((row for row in rows if row.accepts(read)), None)
        if row is None:
            rows.append(Row([read]))
        else:
            row.lines.append(read)
    return sorted(rows, key=lambda row: row.top)


def stacked(upper: Row, lower: Row) -> bool:
    """Whether ``lower`` is the second row of a plate whose first row is ``upper``."""
    height = max(upper.height, lower.height)
    gap = lower.top - upper.bottom
    overlap = min(upper.right, lower.right) - max(upper.left, lower.left)
    narrower = min(upper.right - upper.left, lower.right - lower.left)
    return -0.6 * height <= gap <= STACK_GAP * height and overlap >= STACK_OVERLAP * narrower


def candidates(reads: list[ReadLine]) -> list[Candidate]:
    """Every row alone and every stacked pair of rows of ``reads``."""
    rows = group_rows(reads)
    pairs = [
        Candidate((upper, lower))
        for i, upper in enumerate(rows)
        for lower in rows[i + 1 :]
        if stacked(upper, lower)
    ]
    return pairs + [Candidate((row,)) for row in rows]
