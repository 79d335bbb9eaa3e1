"""Does a plate read match a watch-list entry? Within one edit, confusable characters counting half.

An operator lists plates the station looks for, whole (``75-H1 357.92``) or with wildcards
(``29B1*``: any plate that starts so; ``?`` stands for one character). Separators do not
count: entries and reads are compared on their letters and digits only (``75H135792``).

A read is one OCR result and may be one character off: a digit read as its look-alike letter
(``0/O/D``, ``8/B``, ``1/I``, ``5/S``, ``2/Z``, the confusions :mod:`detect.plates.formats`
resolves by position) or any other character missed, added or changed. A read matches an entry
when the cheapest way to turn one into the other costs at most :data:`MAX_COST`: a wildcard
costs nothing, a confusable swap costs half, any other edit costs one. So ``75-H1 357.92`` read
as ``75-H1 357.9B`` (one confusable) or ``75-H1 357.93`` (one other change) is a hit, and a plate
two ordinary changes away is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from detect.plates.formats import compact

MAX_COST = 1.0
CONFUSABLE_COST = 0.5
CONFUSABLE = frozenset(
    frozenset(pair)
    for group in ("0OD", "8B", "1I", "5S", "2Z")
    for pair in ((a, b) for a in group for b in group if a < b)
)
"""Pairs of characters OCR mixes up (unordered)."""
WILDCARDS = frozenset("*?")


def watch_key(entry: str) -> str:
    """An entry as compared: upper case, letters, digits and wildcards only."""
    return "".join(c for c in entry.upper() if c.isalnum() or c in WILDCARDS)


def _swap_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return CONFUSABLE_COST if frozenset((a, b)) in CONFUSABLE else 1.0


def match_cost(read: str, entry: str) -> float:
    """The cheapest cost of turning ``read`` (separators ignored) into ``entry``'s pattern."""
    text, pattern = compact(read), watch_key(entry)
    # costs[j]: the cost of matching the read so far against pattern[:j] (one row of the table)
    costs = [0.0] * (len(pattern) + 1)
    for j, p in enumerate(pattern, 1):
        costs[j] = costs[j - 1] + (0.0 if p == "*" else 1.0)
    for char in text:
        previous, costs[0] = costs[:], costs[0] + 1.0
        for j, p in enumerate(pattern, 1):
            if p == "*":  # matches nothing more, or this character too
                costs[j] = min(costs[j - 1], previous[j])
            else:
                step = 0.0 if p == "?" else _swap_cost(char, p)
                costs[j] = min(previous[j - 1] + step, previous[j] + 1.0, costs[j - 1] + 1.0)
    return costs[-1]


@dataclass(frozen=True, slots=True)
class WatchHit:
    """A read that matched ``entry`` at ``cost`` (0: exactly)."""

    entry: str
    cost: float


class WatchList:
    """The entries of the watch list; :meth:`hit` says which one a read matches best."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(entry for entry in entries if watch_key(entry).strip("*?"))

    def hit(self, read: str) -> WatchHit | None:
        """The best-matching entry within :data:`MAX_COST`, or None."""
        best: WatchHit | None = None
        for entry in self.entries:
            cost = match_cost(read, entry)
            if cost <= MAX_COST and (best is None or cost < best.cost):
                best = WatchHit(entry, cost)
        return best
