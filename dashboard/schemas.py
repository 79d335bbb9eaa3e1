"""The HTTP edge: what the dashboard API returns, as pydantic models."""

from __future__ import annotations

from pydantic import BaseModel

from common.store import AlertRecord


class AlertOut(BaseModel):
    """One alert as the page shows it."""

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
    ended_at: float | None
    state: str
    snapshot_url: str
    crop_url: str

    @classmethod
    def of(cls, alert: AlertRecord, camera_name: str, area: str) -> AlertOut:
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
            ended_at=alert.ended_at,
            state=alert.state,
            snapshot_url=f"/api/alerts/{alert.id}/snapshot.jpg",
            crop_url=f"/api/alerts/{alert.id}/crop.jpg",
        )


class CameraOut(BaseModel):
    """A camera and its last known state; never its URL or login."""

    id: str
    name: str
    area: str
    state: str
    state_since: float | None
    detail: str


class SiteOut(BaseModel):
    """What the page needs to know about the installation."""

    name: str
    language: str
