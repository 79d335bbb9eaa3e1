"""The HTTP edge for alerts and their reviews, as pydantic models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.alert_reviews import Review
from common.alert_rows import AlertRecord
from dashboard.schemas.ids import SQLITE_MAX_INTEGER


class ReviewOut(BaseModel):
    """Someone acknowledged or resolved an alert."""

    action: str
    username: str
    note: str
    at: float

    @classmethod
    def of(cls, review: Review) -> ReviewOut:
        return cls(action=review.action, username=review.username, note=review.note, at=review.at)


class AlertQuery(BaseModel):
    """Which alerts to list: every field narrows the list; ``before`` pages back."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    before: int | None = Field(
        default=None, ge=1, le=SQLITE_MAX_INTEGER, description="smallest id of the last page"
    )
    camera: str | None = Field(default=None, max_length=64)
    area: str | None = Field(default=None, max_length=120)
    rule: str | None = Field(default=None, max_length=64)
    class_name: str | None = Field(default=None, max_length=64)
    state: str | None = Field(default=None, max_length=20)
    since: float | None = Field(default=None, description="Unix time, inclusive")
    until: float | None = Field(default=None, description="Unix time, exclusive")


class ReviewIn(BaseModel):
    """What an operator writes when acknowledging or resolving."""

    note: str = Field(default="", max_length=1000)


class AlertCardOut(BaseModel):
    """What an alert card of the page shows: a live alert or a re-analysis finding."""

    id: int
    camera_id: str
    camera_name: str
    area: str
    kind: str
    rule: str
    class_name: str
    severity: str
    confidence: float | None
    started_at: float
    triggered_at: float | None
    ended_at: float | None
    snapshot_url: str
    crop_url: str
    plate: str | None = None
    """The licence plate read on the alert's vehicle (:mod:`common.plates`), if any."""


class AlertOut(AlertCardOut):
    """One live alert as the page shows it, with its state and reviews."""

    state: str
    reviews: list[ReviewOut]

    @classmethod
    def of(
        cls,
        alert: AlertRecord,
        camera_name: str,
        area: str,
        reviews: list[ReviewOut],
        plate: str | None = None,
    ) -> AlertOut:
        return cls(
            id=alert.id,
            camera_id=alert.camera_id,
            camera_name=camera_name,
            area=area,
            kind=alert.kind,
            rule=alert.rule,
            class_name=alert.class_name,
            severity=alert.severity,
            confidence=alert.confidence,
            started_at=alert.started_at,
            triggered_at=alert.triggered_at,
            ended_at=alert.ended_at,
            state=alert.state,
            snapshot_url=f"/api/alerts/{alert.id}/snapshot.jpg",
            crop_url=f"/api/alerts/{alert.id}/crop.jpg",
            reviews=reviews,
            plate=plate,
        )
