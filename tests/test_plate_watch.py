"""The watch-list match: one edit at most, a confusable character counts half, wildcards free,
separators ignored; entries that are only wildcards never match everything."""

from __future__ import annotations

import pytest

from detect.plates.watch import WatchList, match_cost


@pytest.mark.parametrize(
    ("read", "entry", "cost"),
    [
        ("75-H1 357.92", "75-H1 357.92", 0.0),
        ("75H135792", "75-h1 357.92", 0.0),  # separators and case do not count
        ("75-H1 357.9B", "75-H1 357.92", 1.0),  # B for 2 is no confusion: a plain change
        ("75-H1 357.98", "75-H1 357.9B", 0.5),  # 8 and B are confused
        ("75-H1 357.92", "75-H1 357.93", 1.0),  # one ordinary change
        ("75-H1 357.2", "75-H1 357.92", 1.0),  # one character missed
        ("75-H1 3579.22", "75-H1 357.92", 1.0),  # one character added
        ("75-H1 357.00", "75-H1 357.92", 2.0),  # two changes
        ("75-HI 357.92", "75-H1 357.92", 0.5),  # I for 1
        ("5IG-97I.62", "51G-971.62", 1.0),  # two confusions: half each
        ("29-B1 123.45", "29B1*", 0.0),
        ("29-81 123.45", "29B1*", 0.5),
        ("30-B1 123.45", "29B1*", 2.0),
        ("29-B1 123.45", "29-B? 123.45", 0.0),
        ("29-B1 123.45", "*123.45", 0.0),
    ],
)
def test_match_costs(read: str, entry: str, cost: float) -> None:
    assert match_cost(read, entry) == cost


def test_the_watch_list_names_the_best_entry_within_one_edit() -> None:
    watch = WatchList(["75-H1 357.92", "75-H1*", "51G-971.62", "*", "  "])
    exact = watch.hit("75-H1 357.92")
    assert exact is not None
    assert (exact.entry, exact.cost) == ("75-H1 357.92", 0.0)
    near = watch.hit("51G-97I.62")
    assert near is not None
    assert (near.entry, near.cost) == ("51G-971.62", 0.5)
    assert watch.hit("30A-123.45") is None  # "*" alone is no entry: it would match everything
