"""The HTTP edge of evidence exports over several cameras (:mod:`dashboard.routes.export`), as
pydantic models."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ExportIn(BaseModel):
    """What to export and why (the reason goes into the manifest and the audit log)."""

    model_config = {"extra": "forbid"}
    camera_ids: list[str] = Field(min_length=1, max_length=32)
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    reason: str = Field(min_length=3, max_length=500)


class ExportFileOut(BaseModel):
    camera_id: str
    name: str
    url: str
    sha256: str
    bytes: int
    start: float
    end: float


class ExportOut(BaseModel):
    id: str
    manifest_url: str
    zip_url: str
    files: list[ExportFileOut]
    missing: list[str]
