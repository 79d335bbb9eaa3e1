"""The HTTP edge of the live wall's saved layouts (:mod:`dashboard.routes.wall`), as pydantic
models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

CameraId = Annotated[str, Field(min_length=1, max_length=64)]


class TileIn(BaseModel):
    """One tile: its camera (null for an empty tile) and whether alerts may replace it."""

    model_config = {"extra": "forbid"}
    camera_id: CameraId | None = None
    pinned: bool = False


class LayoutIn(BaseModel):
    """A whole layout: ``grid`` tiles in reading order (left to right, top to bottom)."""

    model_config = {"extra": "forbid"}
    grid: Literal[1, 4, 9, 16]
    tiles: list[TileIn] = Field(max_length=16)
    pull_alerts: bool = False

    @model_validator(mode="after")
    def _one_tile_per_cell(self) -> LayoutIn:
        if len(self.tiles) != self.grid:
            raise ValueError(f"a grid of {self.grid} has {self.grid} tiles, not {len(self.tiles)}")
        return self


class TileOut(BaseModel):
    camera_id: str | None
    pinned: bool


class LayoutOut(BaseModel):
    name: str
    grid: int
    tiles: list[TileOut]
    pull_alerts: bool
    saved_at: float


class LayoutsOut(BaseModel):
    """The user's layouts, the one saved last first (the page opens it), and their cap."""

    layouts: list[LayoutOut]
    live_peers_per_user: int
