"""Evidence export: a time window across several cameras as MP4 files plus a manifest of
their SHA-256, who exported them and why; the footage goes on legal hold, so retention
keeps the originals too. Operators and admins only; every export is audited."""

from __future__ import annotations

import json
import re
import time
import uuid
import zipfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from common import audit, recordings
from common.accounts import User
from common.audit import Action
from common.evidence import ClipFile, NoFootageError, cut_clip, exports_folder, write_manifest
from dashboard.auth import OperatorSession, client_address
from dashboard.state import DashboardState, State

router = APIRouter()
MAX_WINDOW_S = 6 * 3600
EXPORT_ID = r"^[0-9a-f]{32}$"
FILE_NAME = r"^[a-z0-9_-]+\.(mp4|json)$"


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


def _exports_folder(state: DashboardState) -> Path:
    return exports_folder(state.site.storage.database)


def _cut_all(
    state: DashboardState, body: ExportIn, folder: Path
) -> tuple[list[ClipFile], list[str]]:
    files, missing = [], []
    for camera_id in body.camera_ids:
        found = recordings.segments(state.store, camera_id, body.start, body.end)
        try:
            files.append(cut_clip(found, body.start, body.end, folder / f"{camera_id}.mp4"))
        except NoFootageError:
            missing.append(camera_id)
    return files, missing


@router.post("/api/exports", status_code=201)
async def create_export(
    state: State, session: OperatorSession, request: Request, body: ExportIn
) -> ExportOut:
    """Cut the window from every camera, write the manifest, put the footage on hold."""
    if not 0 < body.end - body.start <= MAX_WINDOW_S:
        raise HTTPException(status_code=422, detail="the window must be positive, at most 6 h")
    for camera_id in body.camera_ids:
        if state.camera(camera_id) is None or not state.may_see(session.user, camera_id):
            raise HTTPException(status_code=404, detail=f"no such camera: {camera_id}")
    export_id = uuid.uuid4().hex
    folder = _exports_folder(state) / export_id
    folder.mkdir(parents=True)
    user = session.user.username
    files, missing = await run_in_threadpool(_cut_all, state, body, folder)
    if not files:
        folder.rmdir()
        raise HTTPException(status_code=404, detail="nothing recorded in that window")
    write_manifest(folder, files, user, body.reason, (body.start, body.end))
    now = time.time()
    for file in files:
        recordings.add_legal_hold(
            state.store,
            file.camera_id,
            start=file.start,
            end=file.end,
            reason=body.reason,
            by=user,
            at=now,
        )
    audit.record(
        state.store,
        Action.EXPORT,
        user,
        target=",".join(f.camera_id for f in files),
        detail={"export": export_id, "reason": body.reason, "files": [f.name for f in files]},
        address=client_address(request),
    )
    base = f"/api/exports/{export_id}"
    return ExportOut(
        id=export_id,
        manifest_url=f"{base}/manifest.json",
        zip_url=f"{base}.zip",
        files=[
            ExportFileOut(
                camera_id=f.camera_id,
                name=f.name,
                url=f"{base}/{f.name}",
                sha256=f.sha256,
                bytes=f.bytes,
                start=f.start,
                end=f.end,
            )
            for f in files
        ],
        missing=missing,
    )


def _export_file(state: DashboardState, user: User, export_id: str, name: str) -> Path:
    """A file of an export, by id and plain name only (nothing outside the exports folder),
    and only for a user who may see every camera in it."""
    if not re.fullmatch(EXPORT_ID, export_id) or not re.fullmatch(FILE_NAME, name):
        raise HTTPException(status_code=404, detail="no such export file")
    folder = _exports_folder(state) / export_id
    path, manifest = folder / name, folder / "manifest.json"
    if not path.is_file() or not manifest.is_file():
        raise HTTPException(status_code=404, detail="no such export file")
    files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    if not all(state.may_see(user, entry["camera_id"]) for entry in files):
        raise HTTPException(status_code=404, detail="no such export file")
    return path


@router.get("/api/exports/{export_id}/{name}")
def export_file(state: State, session: OperatorSession, export_id: str, name: str) -> FileResponse:
    return FileResponse(_export_file(state, session.user, export_id, name))


@router.get("/api/exports/{export_id}.zip")
async def export_zip(state: State, session: OperatorSession, export_id: str) -> FileResponse:
    """The whole package as one ZIP (stored, not recompressed: video does not shrink)."""
    manifest = _export_file(state, session.user, export_id, "manifest.json")
    archive = manifest.parent.with_suffix(".zip")
    if not archive.exists():
        await run_in_threadpool(_zip_folder, manifest.parent, archive)
    return FileResponse(archive, media_type="application/zip", filename=f"export-{export_id}.zip")


def _zip_folder(folder: Path, archive: Path) -> None:
    partial = archive.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as out:
        for path in sorted(folder.iterdir()):
            out.write(path, arcname=path.name)
    partial.replace(archive)
