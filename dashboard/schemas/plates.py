"""The HTTP edge for plate reads and the plate watch list, as pydantic models."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from common.config import CameraConfig
from common.plates import PlateReadRecord, WatchEntry
from dashboard.schemas.ids import SQLITE_MAX_INTEGER

PLATE_PAGE_MAX = 200


class PlateSearch(BaseModel):
    """Which reads to list, newest first; every field narrows the list.

    ``q`` is part of a plate, separators ignored (``75H1`` finds ``75-H1 357.92``), with
    ``*`` for any characters and ``?`` for one; ``before_id`` is the last read of the page
    before, for the next one.
    """

    model_config = ConfigDict(extra="forbid")

    q: str = Field(default="", max_length=40)
    camera: str | None = Field(default=None, max_length=64)
    area: str | None = Field(default=None, max_length=120)
    since: float | None = Field(default=None, description="Unix time, inclusive")
    until: float | None = Field(default=None, description="Unix time, inclusive")
    before_id: int | None = Field(default=None, ge=1, le=SQLITE_MAX_INTEGER)
    limit: int = Field(default=50, ge=1, le=PLATE_PAGE_MAX)


def replay_url(camera_id: str, at: float) -> str:
    """The camera page, opened with its replay playing from ``at`` (whole seconds, rounded
    down so the moment is inside what plays)."""
    return f"/cameras/{quote(camera_id, safe='')}?at={int(at)}"


class PlateReadOut(BaseModel):
    """One vehicle track's plate as the page shows it: the read, where and when, the
    plate's picture and the link that replays the moment."""

    id: int
    plate: str
    camera_id: str
    camera_name: str
    area: str
    class_name: str
    confidence: float
    agreeing: int
    """How many of the track's crops read this plate..."""
    crops: int
    """...of how many crops read."""
    first_at: float
    at: float
    """The moment of the best crop (epoch seconds)."""
    source: str
    """The stream the picture came from: ``detect`` or ``record``."""
    watch_entry: str | None
    """The watch-list entry the plate matched, if it did."""
    alert_id: int | None
    """The alert the match raised."""
    crop_url: str
    replay_url: str

    @classmethod
    def of(cls, read: PlateReadRecord, camera: CameraConfig | None) -> PlateReadOut:
        name, area = (camera.name, camera.area) if camera else (read.camera_id, "")
        return cls(
            id=read.id,
            plate=read.plate,
            camera_id=read.camera_id,
            camera_name=name,
            area=area,
            class_name=read.class_name,
            confidence=read.confidence,
            agreeing=read.agreeing,
            crops=read.crops,
            first_at=read.first_at,
            at=read.at,
            source=read.source,
            watch_entry=read.watch_entry,
            alert_id=read.alert_id,
            crop_url=f"/api/plates/{read.id}/crop.jpg",
            replay_url=replay_url(read.camera_id, read.at),
        )


class WatchIn(BaseModel):
    """A plate or pattern to watch for (``29B1*``, ``75-H1 357.92``), and why."""

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=500)


class WatchEntryOut(BaseModel):
    id: int
    pattern: str
    note: str
    added_by: str
    added_at: float

    @classmethod
    def of(cls, entry: WatchEntry) -> WatchEntryOut:
        return cls(
            id=entry.id,
            pattern=entry.pattern,
            note=entry.note,
            added_by=entry.added_by,
            added_at=entry.added_at,
        )
