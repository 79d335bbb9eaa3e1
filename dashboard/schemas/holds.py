"""The HTTP edge of legal holds (:mod:`dashboard.routes.holds`), as pydantic models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from common import recordings


class HoldIn(BaseModel):
    """A camera's time range to keep, and why (the reason is audited)."""

    model_config = {"extra": "forbid"}
    camera_id: str = Field(max_length=64)
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    reason: str = Field(min_length=3, max_length=500)


class LiftIn(BaseModel):
    """Why the hold ends (the case is closed...): audited."""

    model_config = {"extra": "forbid"}
    reason: str = Field(min_length=3, max_length=500)


class HoldOut(BaseModel):
    id: int
    camera_id: str
    start: float
    end: float
    reason: str
    created_by: str
    created_at: float

    @classmethod
    def of(cls, hold: recordings.LegalHold) -> HoldOut:
        return cls(
            id=hold.id,
            camera_id=hold.camera_id,
            start=hold.start,
            end=hold.end,
            reason=hold.reason,
            created_by=hold.created_by,
            created_at=hold.created_at,
        )
