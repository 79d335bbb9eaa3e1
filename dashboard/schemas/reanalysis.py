"""The HTTP edge for re-analysis jobs and their findings, as pydantic models.

A job leaves the server without its ``upload_path``: where a file lies on the station's
disk is the server's business, the operator sees the name they uploaded it under.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.config import CameraConfig
from common.jobs import Job, JobAlert
from dashboard.schemas.alerts import AlertCardOut

LATEST_TIME = 32_503_680_000.0
"""Year 3000 in Unix time: a bound that keeps times finite (no inf or NaN reaches SQLite)."""


class RangeIn(BaseModel):
    """A camera's recordings to analyse again, between two Unix times."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str = Field(min_length=1, max_length=64)
    start: float = Field(ge=0, le=LATEST_TIME, description="Unix time")
    end: float = Field(ge=0, le=LATEST_TIME, description="Unix time")


class UploadQuery(BaseModel):
    """What comes with an uploaded file (the file itself is the request body).

    ``filename`` is only shown back to the operator; ``start`` is when the file's first
    picture was taken, if the operator knows (the upload time otherwise)."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str = Field(min_length=1, max_length=64)
    filename: str = Field(default="", max_length=255)
    start: float | None = Field(default=None, ge=0, le=LATEST_TIME, description="Unix time")


class JobsQuery(BaseModel):
    """A page of jobs, newest first; ``before`` is the smallest id of the last page."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    before: int | None = Field(default=None, ge=1, le=2**62)


class FindingsQuery(BaseModel):
    """A page of a job's findings, oldest first; ``after`` is the largest id seen."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=200, ge=1, le=500)
    after: int | None = Field(default=None, ge=0, le=2**62)


class LimitsOut(BaseModel):
    """What the page needs to know before an operator fills the form."""

    enabled: bool
    max_upload_mb: float
    max_range_h: float


class JobOut(BaseModel):
    """A job as the page shows it: ``progress`` from 0 to 1, ``alerts`` its findings."""

    id: int
    camera_id: str
    camera_name: str
    area: str
    source: str
    start: float
    end: float | None
    upload_name: str | None
    state: str
    progress: float
    frames: int
    detail: str
    detail_code: str
    created_by: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    cancel_requested: bool
    alerts: int

    @classmethod
    def of(cls, job: Job, camera: CameraConfig | None) -> JobOut:
        return cls(
            id=job.id,
            camera_id=job.camera_id,
            camera_name=camera.name if camera else job.camera_id,
            area=camera.area if camera else "",
            source=job.source.value,
            start=job.start,
            end=job.end,
            upload_name=job.upload_name,
            state=job.state.value,
            progress=job.progress,
            frames=job.frames,
            detail=job.detail,
            detail_code=job.detail_code,
            created_by=job.created_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            cancel_requested=job.cancel_requested,
            alerts=job.alerts,
        )


class FindingOut(AlertCardOut):
    """What the rules raised during a job, on the same card as a live alert; a finding has no
    state or reviews to act on."""

    job_id: int

    @classmethod
    def of(
        cls, alert: JobAlert, camera: CameraConfig | None, plate: str | None = None
    ) -> FindingOut:
        base = f"/api/reanalysis/alerts/{alert.id}"
        return cls(
            id=alert.id,
            job_id=alert.job_id,
            camera_id=alert.camera_id,
            camera_name=camera.name if camera else alert.camera_id,
            area=camera.area if camera else "",
            kind=alert.kind,
            rule=alert.rule,
            class_name=alert.class_name,
            severity=alert.severity,
            confidence=alert.confidence,
            started_at=alert.started_at,
            triggered_at=alert.triggered_at,
            ended_at=alert.ended_at,
            snapshot_url=f"{base}/snapshot.jpg",
            crop_url=f"{base}/crop.jpg",
            plate=plate,
        )


class JobDetailOut(BaseModel):
    """One job with a page of its findings."""

    job: JobOut
    findings: list[FindingOut]
