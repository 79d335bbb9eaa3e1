"""The HTTP edge of investigation search (the kept sightings of ended tracks), as pydantic
models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.config import CameraConfig
from common.sightings import SightingRecord
from dashboard.schemas.plates import replay_url
from detect.appearance import COLOURS

SIGHTING_PAGE_MAX = 200


class SightingSearch(BaseModel):
    """Which sightings to list; every field narrows the list. With a colour, the crops where
    it holds the largest share come first; without one, the newest first.

    ``colour`` is one of :data:`detect.appearance.COLOURS` (another word is answered 422);
    ``zone`` is a zone name of the camera's config; ``since`` and ``until`` keep the
    sightings whose track was in view at some moment between them.
    """

    model_config = ConfigDict(extra="forbid")

    class_name: str | None = Field(default=None, max_length=64)
    colour: str | None = Field(default=None, max_length=16)
    camera: str | None = Field(default=None, max_length=64)
    area: str | None = Field(default=None, max_length=120)
    zone: str | None = Field(default=None, max_length=64)
    since: float | None = Field(default=None, description="Unix time, inclusive")
    until: float | None = Field(default=None, description="Unix time, inclusive")
    limit: int = Field(default=60, ge=1, le=SIGHTING_PAGE_MAX)

    @field_validator("colour")
    @classmethod
    def _named_colour(cls, value: str | None) -> str | None:
        if value and value not in COLOURS:
            raise ValueError(f"unknown colour {value!r}; known: {', '.join(COLOURS)}")
        return value or None


class ColourShare(BaseModel):
    """A named colour and the share of the crop it holds (0..1)."""

    name: str
    share: float


class SightingOut(BaseModel):
    """One track's best sighting as the search page shows it: what, where and when, its
    main colours, its crop and the link that replays the moment; ``score`` is how alike it
    looks to the sighting a "more like this" asked about (cosine, 1 = the same), None in a
    plain search."""

    id: int
    camera_id: str
    camera_name: str
    area: str
    class_name: str
    confidence: float
    first_seen: float
    last_seen: float
    best_at: float
    """The moment of the crop (epoch seconds)."""
    zones: list[str]
    colours: list[ColourShare]
    """The dominant colours, the largest share first."""
    crop_url: str
    replay_url: str
    score: float | None = None

    @classmethod
    def of(
        cls, record: SightingRecord, camera: CameraConfig | None, score: float | None = None
    ) -> SightingOut:
        name, area = (camera.name, camera.area) if camera else (record.camera_id, "")
        return cls(
            id=record.id,
            camera_id=record.camera_id,
            camera_name=name,
            area=area,
            class_name=record.class_name,
            confidence=record.confidence,
            first_seen=record.first_seen,
            last_seen=record.last_seen,
            best_at=record.best_at,
            zones=list(record.zones),
            colours=[
                ColourShare(name=colour, share=round(record.colours[colour], 3))
                for colour in record.dominant()
            ],
            crop_url=f"/api/sightings/{record.id}/crop.jpg",
            replay_url=replay_url(record.camera_id, record.best_at),
            score=None if score is None else round(score, 4),
        )


class SearchCameraOut(BaseModel):
    """A camera the user may search, with the zones of its config."""

    id: str
    name: str
    area: str
    zones: list[str]


class SightingOptionsOut(BaseModel):
    """What the search form can offer: the classes kept or watched, the colour names, and
    the user's cameras, areas and zones."""

    classes: list[str]
    colours: list[str]
    cameras: list[SearchCameraOut]
    areas: list[str]
    zones: list[str]
