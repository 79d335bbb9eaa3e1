"""The HTTP edge for cases, as pydantic models: what the page sends and what it is shown."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.audit import Detail
from common.case_exports import CaseExport, ExportState
from common.cases import Case, CaseClip, CaseNote, TrailEntry
from common.config import CameraConfig
from dashboard.schemas.alerts import AlertOut
from dashboard.schemas.reanalysis import FindingOut


class CaseIn(BaseModel):
    """A new case: what happened, in a line and in more words."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)


class CasePatchIn(BaseModel):
    """A change of title or description, or closing or reopening (with a note why)."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    state: Literal["open", "closed"] | None = None
    note: str = Field(default="", max_length=2000)


class CasesQuery(BaseModel):
    """Which cases to list: open, closed, or all of them (no ``state``)."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["open", "closed"] | None = None


class ClipIn(BaseModel):
    """A camera's recorded window for the case (at most :data:`MAX_CLIP_S` long)."""

    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(min_length=1, max_length=64)
    start: float = Field(ge=0)
    end: float = Field(ge=0)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


class AssignIn(BaseModel):
    """Who takes the case, and what the one handing it over says (what is done, what is left)."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=2000)


class CaseExportIn(BaseModel):
    """Why the package is made: it goes into its manifest and the audit log."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=500)


class CaseOut(BaseModel):
    id: int
    title: str
    description: str
    state: str
    created_by: str
    created_at: float
    assigned_to: str | None
    updated_at: float
    cameras: list[str]

    @classmethod
    def of(cls, case: Case, cameras: set[str]) -> CaseOut:
        return cls(
            id=case.id,
            title=case.title,
            description=case.description,
            state=case.state.value,
            created_by=case.created_by,
            created_at=case.created_at,
            assigned_to=case.assigned_to,
            updated_at=case.updated_at,
            cameras=sorted(cameras),
        )


class ClipOut(BaseModel):
    id: int
    camera_id: str
    camera_name: str
    start: float
    end: float
    added_by: str
    added_at: float

    @classmethod
    def of(cls, clip: CaseClip, camera: CameraConfig | None) -> ClipOut:
        return cls(
            id=clip.id,
            camera_id=clip.camera_id,
            camera_name=camera.name if camera else clip.camera_id,
            start=clip.start,
            end=clip.end,
            added_by=clip.added_by,
            added_at=clip.added_at,
        )


class NoteOut(BaseModel):
    id: int
    author: str
    at: float
    text: str
    kind: str

    @classmethod
    def of(cls, note: CaseNote) -> NoteOut:
        return cls(id=note.id, author=note.author, at=note.at, text=note.text, kind=note.kind)


class CaseExportOut(BaseModel):
    """A package of the case: ``zip_url`` once it is done."""

    id: int
    state: str
    reason: str
    requested_by: str
    requested_at: float
    finished_at: float | None
    bytes: int | None
    sha256: str | None
    detail: str
    zip_url: str | None

    @classmethod
    def of(cls, export: CaseExport) -> CaseExportOut:
        done = export.state is ExportState.DONE
        return cls(
            id=export.id,
            state=export.state.value,
            reason=export.reason,
            requested_by=export.requested_by,
            requested_at=export.requested_at,
            finished_at=export.finished_at,
            bytes=export.bytes,
            sha256=export.sha256,
            detail=export.detail,
            zip_url=f"/api/cases/{export.case_id}/exports/{export.id}.zip" if done else None,
        )


class HistoryOut(BaseModel):
    """One row of the case's audit trail (the address stays in the audit log)."""

    at: float
    actor: str
    action: str
    detail: Detail

    @classmethod
    def of(cls, entry: TrailEntry) -> HistoryOut:
        return cls(at=entry.at, actor=entry.actor, action=entry.action, detail=entry.detail)


class CaseDetailOut(BaseModel):
    """A case with everything in it."""

    case: CaseOut
    alerts: list[AlertOut]
    findings: list[FindingOut]
    clips: list[ClipOut]
    notes: list[NoteOut]
    exports: list[CaseExportOut]
    history: list[HistoryOut]
