"""The HTTP edge of a camera's recorded coverage, gaps, alert marks and playback
(:mod:`dashboard.routes.replay`), as pydantic models."""

from __future__ import annotations

from pydantic import BaseModel


class SpanOut(BaseModel):
    start: float
    end: float | None


class SegmentOut(SpanOut):
    id: int
    url: str
    node: str | None = None
    """The node that keeps the file (a site of several machines), None: this machine."""


class GapOut(SpanOut):
    cause: str


class MarkerOut(BaseModel):
    id: int
    at: float
    kind: str
    rule: str


class TimelineOut(BaseModel):
    """What the replay bar draws for one camera and range."""

    camera_id: str
    start: float
    end: float
    segments: list[SegmentOut]
    gaps: list[GapOut]
    alerts: list[MarkerOut]


class PlaybackOut(BaseModel):
    """Where to play a moment: a segment's file and the offset into it."""

    segment_id: int
    url: str
    offset_s: float
    start: float
    end: float
