"""What a district hub knows of each station's link (its intake writes, its page reads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinkState:
    """One station's link as the hub last saw it.

    ``up``: the station answered the hub's last question over the leaf link; ``lag``: events
    of its alert stream the hub has not stored yet (None: not known); times are epoch
    seconds; ``error`` says why the link is down."""

    up: bool
    lag: int | None
    checked_at: float | None
    last_event_at: float | None
    error: str = ""


LINK_UNKNOWN = LinkState(up=False, lag=None, checked_at=None, last_event_at=None)
