"""Evidence export: a time window across several cameras as MP4 files plus a manifest of
their SHA-256 (hashed while read, in chunks), who exported them and why. Operators and
admins only; every export and every download of one is audited (one row per user and file
per few minutes).

An admin's export puts its footage on legal hold, so retention keeps the originals too; an
operator's does not (only admins place and lift holds: :mod:`dashboard.routes.holds`)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
import uuid
import weakref
import zipfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from common import audit, recordings
from common.accounts import Role, User
from common.audit import Action
from common.evidence import ClipFile, NoFootageError, cut_clip, exports_folder, write_manifest
from common.node_footage import NodeFootageError, local_segments
from dashboard.auth import OperatorSession, client_address
from dashboard.schemas.export import ExportFileOut, ExportIn, ExportOut
from dashboard.services.camera_access import may_see, visible_camera
from dashboard.services.footage_audit import audit_footage
from dashboard.state import DashboardState, State

router = APIRouter()
MAX_WINDOW_S = 6 * 3600
EXPORT_ID = r"^[0-9a-f]{32}$"
FILE_NAME = r"^[a-z0-9_-]+\.(mp4|json)$"
_zipping: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
"""One lock per export whose ZIP is being written: a second download waits for it instead
of writing the same ``ID.partial`` at the same time."""


def _exports_folder(state: DashboardState) -> Path:
    return exports_folder(state.store.path)  # next to the store this dashboard reads


def _cut_all(
    state: DashboardState, body: ExportIn, folder: Path
) -> tuple[list[ClipFile], list[str]]:
    files, missing = [], []
    for camera_id in body.camera_ids:
        found = recordings.segments(state.store, camera_id, body.start, body.end)
        cluster = state.site.cluster
        on_disk = local_segments(state.store, found, cluster.token_env, cluster.tls_ca)
        try:
            files.append(cut_clip(on_disk, body.start, body.end, folder / f"{camera_id}.mp4"))
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
        if visible_camera(state.site, session.user, camera_id) is None:
            raise HTTPException(status_code=404, detail=f"no such camera: {camera_id}")
    export_id = uuid.uuid4().hex
    folder = _exports_folder(state) / export_id
    folder.mkdir(parents=True)
    user = session.user.username
    try:
        files, missing = await run_in_threadpool(_cut_all, state, body, folder)
    except NodeFootageError:  # a node is down: no half export (the app answers 502/504)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if not files:
        folder.rmdir()
        raise HTTPException(status_code=404, detail="nothing recorded in that window")
    write_manifest(folder, files, user, body.reason, (body.start, body.end))
    held = session.user.role is Role.ADMIN
    now, address = time.time(), client_address(request)
    for file in files if held else ():
        recordings.add_legal_hold(
            state.store,
            file.camera_id,
            start=file.start,
            end=file.end,
            reason=body.reason,
            by=user,
            at=now,
            address=address,
        )
    audit.record(
        state.store,
        Action.EXPORT,
        user,
        target=",".join(f.camera_id for f in files),
        detail={
            "export": export_id,
            "reason": body.reason,
            "files": [f.name for f in files],
            "held": held,
        },
        address=address,
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


def _export_file(
    state: DashboardState, user: User, export_id: str, name: str
) -> tuple[Path, list[str]]:
    """A file of an export, by id and plain name only (nothing outside the exports folder),
    and only for a user who may see every camera in it; with the export's cameras."""
    if not re.fullmatch(EXPORT_ID, export_id) or not re.fullmatch(FILE_NAME, name):
        raise HTTPException(status_code=404, detail="no such export file")
    folder = _exports_folder(state) / export_id
    path, manifest = folder / name, folder / "manifest.json"
    if not path.is_file() or not manifest.is_file():
        raise HTTPException(status_code=404, detail="no such export file")
    cameras = [entry["camera_id"] for entry in json.loads(manifest.read_text("utf-8"))["files"]]
    if not all(may_see(state.site, user, camera_id) for camera_id in cameras):
        raise HTTPException(status_code=404, detail="no such export file")
    return path, cameras


@router.get("/api/exports/{export_id}/{name}")
def export_file(
    state: State, session: OperatorSession, request: Request, export_id: str, name: str
) -> FileResponse:
    path, cameras = _export_file(state, session.user, export_id, name)
    detail: audit.Detail = {"export": export_id, "file": name}
    target = ",".join(cameras)
    audit_footage(
        state, session, request, action=Action.EXPORT_DOWNLOAD, target=target, detail=detail
    )
    return FileResponse(path)


@router.get("/api/exports/{export_id}.zip")
async def export_zip(
    state: State, session: OperatorSession, request: Request, export_id: str
) -> FileResponse:
    """The whole package as one ZIP (stored, not recompressed: video does not shrink)."""
    manifest, cameras = _export_file(state, session.user, export_id, "manifest.json")
    archive = manifest.parent.with_suffix(".zip")
    async with _zipping.setdefault(export_id, asyncio.Lock()):
        if not archive.exists():
            await run_in_threadpool(_zip_folder, manifest.parent, archive)
    detail: audit.Detail = {"export": export_id, "file": archive.name}
    target = ",".join(cameras)
    await run_in_threadpool(
        audit_footage,
        state,
        session,
        request,
        action=Action.EXPORT_DOWNLOAD,
        target=target,
        detail=detail,
    )
    return FileResponse(archive, media_type="application/zip", filename=f"export-{export_id}.zip")


def _zip_folder(folder: Path, archive: Path) -> None:
    partial = archive.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as out:
        for path in sorted(folder.iterdir()):
            out.write(path, arcname=path.name)
    partial.replace(archive)
