"""Re-analysis: queue a job over a camera's recordings or an uploaded file, follow its
progress, read what the current rules found, cancel or delete it.

Who may do what follows the alerts: anyone logged in may list jobs and read their findings
(as a viewer reads alerts), only operators and admins may queue, cancel and delete (as only
they acknowledge); every queue, cancel and delete is audited. Everything is limited to the
cameras of the user's areas, and a job of another area is answered 404, as if it did not
exist. With ``reanalysis.enabled: false`` no job can be queued (409); old ones stay readable.
How many uploads, queued jobs and stored bytes are allowed is
:mod:`dashboard.services.upload_limits`.

Refusals carry a code the page translates (see :mod:`dashboard.refusals`). The runner
itself (the ``reanalysis`` role) is :mod:`detect.reanalysis`; this module only writes the
queue through :mod:`common.jobs`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from common import audit, jobs, plates, recordings
from common.accounts import User
from common.audit import Action, Detail
from common.config import CameraConfig
from common.jobs import Job, JobSource, NewJob
from dashboard.auth import CurrentSession, OperatorSession, client_address
from dashboard.refusals import Refusal
from dashboard.schemas.ids import RowId
from dashboard.schemas.reanalysis import (
    FindingOut,
    FindingsQuery,
    JobDetailOut,
    JobOut,
    JobsQuery,
    LimitsOut,
    RangeIn,
    UploadQuery,
)
from dashboard.services import upload_limits, uploads
from dashboard.services.camera_access import find_camera, may_see
from dashboard.services.jpeg import jpeg_response
from dashboard.state import DashboardState, State

router = APIRouter()
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "the video file itself, as the raw body",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _enabled(state: DashboardState) -> None:
    if not state.site.reanalysis.enabled:
        raise Refusal(409, "disabled", "re-analysis is switched off in this site's configuration")


def _visible_camera(state: DashboardState, user: User, camera_id: str) -> CameraConfig:
    camera = find_camera(state.site, camera_id)
    if camera is None or not may_see(state.site, user, camera_id):
        raise Refusal(404, "no_camera", f"no such camera: {camera_id}")
    return camera


def _visible_job(state: DashboardState, user: User, job_id: int) -> Job:
    found = jobs.job(state.store, job_id)
    if found is None or not may_see(state.site, user, found.camera_id):
        raise Refusal(404, "no_job", "no such job")
    return found


def _out(state: DashboardState, job: Job) -> JobOut:
    return JobOut.of(job, find_camera(state.site, job.camera_id))


def _uploads(state: DashboardState) -> Path:
    return uploads.uploads_folder(state.store.path)


def _audit(state: DashboardState, request: Request, action: Action, user: User, job: Job) -> None:
    """One audit row: the camera, the job, and its range or its file."""
    detail: Detail = {"job": job.id}
    if job.source is JobSource.RECORDING:
        detail |= {"from": int(job.start), "to": int(job.end or job.start)}
    elif job.upload_name:
        detail["file"] = job.upload_name
    audit.record(
        state.store,
        action,
        user.username,
        target=job.camera_id,
        detail=detail,
        address=client_address(request),
    )


@router.get("/api/reanalysis/limits")
def limits(state: State, _session: CurrentSession) -> LimitsOut:
    """Whether jobs can be queued, and the largest upload and range."""
    config = state.site.reanalysis
    return LimitsOut(
        enabled=config.enabled, max_upload_mb=config.max_upload_mb, max_range_h=config.max_range_h
    )


def checked_range(state: DashboardState, body: RangeIn, now: float) -> tuple[float, float]:
    """The range to analyse, or a 422 saying what is wrong with it. An end still to come
    is cut at ``now`` (what is not recorded yet cannot be analysed)."""
    if body.end <= body.start:
        raise Refusal(422, "range_order", "the end must be after the start")
    if body.start >= now:
        raise Refusal(422, "range_future", "the range lies in the future")
    end = min(body.end, now)
    max_h = state.site.reanalysis.max_range_h
    if end - body.start > max_h * 3600:
        raise Refusal(422, "range_too_long", f"the range is longer than {max_h:g} h", max_h=max_h)
    if not recordings.segments(state.store, body.camera_id, body.start, end):
        raise Refusal(422, "nothing_recorded", "nothing was recorded on this camera in that range")
    return body.start, end


@router.post("/api/reanalysis/jobs", status_code=201)
def queue_range(state: State, session: OperatorSession, request: Request, body: RangeIn) -> JobOut:
    """Queue a job over the camera's recordings between ``start`` and ``end``."""
    _enabled(state)
    camera = _visible_camera(state, session.user, body.camera_id)
    start, end = checked_range(state, body, time.time())
    new = NewJob(camera.id, JobSource.RECORDING, start, end, created_by=session.user.username)
    job = _admit(state, new)
    _audit(state, request, Action.REANALYSIS, session.user, job)
    return _out(state, job)


@router.post("/api/reanalysis/uploads", status_code=201, openapi_extra=UPLOAD_BODY)
async def queue_upload(
    state: State,
    session: OperatorSession,
    request: Request,
    query: Annotated[UploadQuery, Query()],
) -> JobOut:
    """Receive a video file (the raw body), check it is one, and queue a job over it.

    ``start`` is when the file's first picture was taken; without it, the upload time."""
    _enabled(state)
    camera = _visible_camera(state, session.user, query.camera_id)
    now = time.time()
    if query.start is not None and query.start > now:
        raise Refusal(422, "start_future", "the recording time lies in the future")
    with state.uploads.slot(session.user.username, state.site.reanalysis):
        return await _receive_and_queue(
            state, session.user, request, query=query, camera=camera, now=now
        )


async def _receive_and_queue(
    state: DashboardState,
    user: User,
    request: Request,
    *,
    query: UploadQuery,
    camera: CameraConfig,
    now: float,
) -> JobOut:
    """The upload itself, once it holds a slot: the queue and the user's quota are checked
    before the body is read, the file is checked, then the job is added."""
    limits = state.site.reanalysis
    room = await run_in_threadpool(_room, state, user.username)
    limit_bytes = int(limits.max_upload_mb * uploads.MIB)
    over = None if room >= limit_bytes else lambda: upload_limits.over_quota(limits)
    folder = _uploads(state)
    part = await uploads.receive(
        request, folder, min(limit_bytes, room), limits.upload_deadline_s, over
    )
    try:
        probe = await run_in_threadpool(uploads.probe, part)
        path = uploads.keep(part)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    start = query.start if query.start is not None else now
    end = start + probe.duration_s if probe.duration_s is not None else None
    name = uploads.display_name(query.filename)
    new = NewJob(
        camera.id,
        JobSource.UPLOAD,
        start,
        end,
        created_by=user.username,
        upload_name=name,
        upload_path=str(path),
    )
    try:
        job = await run_in_threadpool(_admit, state, new, path.stat().st_size)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _audit(state, request, Action.REANALYSIS, user, job)
    return _out(state, job)


def _room(state: DashboardState, username: str) -> int:
    """Bytes ``username`` may upload now; 429 or 413 when the queue or the quota is full."""
    limits = state.site.reanalysis
    upload_limits.check_queue(state.store, username, limits)
    return upload_limits.room_bytes(state.store, username, limits)


def _admit(state: DashboardState, new: NewJob, upload_bytes: int = 0) -> Job:
    """Add the job if the queue has room and, for an upload of ``upload_bytes``, the user's
    quota too (429 or 413 otherwise). Blocking: the store, and a ``stat`` per stored file."""
    limits = state.site.reanalysis
    with state.uploads.admitting:
        upload_limits.check_queue(state.store, new.created_by, limits)
        if upload_bytes and upload_bytes > upload_limits.room_bytes(
            state.store, new.created_by, limits
        ):
            raise upload_limits.over_quota(limits)
        job = jobs.job(state.store, jobs.add_job(state.store, new))
    assert job is not None
    return job


@router.get("/api/reanalysis/jobs")
def list_jobs(
    state: State, session: CurrentSession, query: Annotated[JobsQuery, Query()]
) -> list[JobOut]:
    """Newest first, only jobs of cameras the user may see; ``before`` pages back."""
    found: list[Job] = []
    before = query.before
    while len(found) < query.limit:
        page = jobs.jobs(state.store, query.limit, before)
        found += [job for job in page if may_see(state.site, session.user, job.camera_id)]
        if len(page) < query.limit:
            break
        before = page[-1].id
    return [_out(state, job) for job in found[: query.limit]]


@router.get("/api/reanalysis/jobs/{job_id}")
def job_detail(
    state: State,
    session: CurrentSession,
    job_id: RowId,
    query: Annotated[FindingsQuery, Query()],
) -> JobDetailOut:
    """The job, its progress and a page of its findings (oldest first)."""
    job = _visible_job(state, session.user, job_id)
    camera = find_camera(state.site, job.camera_id)
    found = jobs.job_alerts(state.store, job.id, query.limit, query.after)
    read = plates.job_plates(state.store, job.id)
    return JobDetailOut(
        job=JobOut.of(job, camera),
        findings=[
            FindingOut.of(
                alert, camera, None if alert.track_id is None else read.get(alert.track_id)
            )
            for alert in found
        ],
    )


def _picture(state: DashboardState, user: User, finding_id: int, crop: bool) -> Response:
    finding = jobs.job_alert(state.store, finding_id)
    if finding is None or not may_see(state.site, user, finding.camera_id):
        raise HTTPException(status_code=404, detail="no such finding")
    return jpeg_response(jobs.job_alert_picture(state.store, finding_id, crop=crop))


@router.get("/api/reanalysis/alerts/{finding_id}/snapshot.jpg")
def finding_snapshot(state: State, session: CurrentSession, finding_id: RowId) -> Response:
    return _picture(state, session.user, finding_id, crop=False)


@router.get("/api/reanalysis/alerts/{finding_id}/crop.jpg")
def finding_crop(state: State, session: CurrentSession, finding_id: RowId) -> Response:
    return _picture(state, session.user, finding_id, crop=True)


@router.post("/api/reanalysis/jobs/{job_id}/cancel")
def cancel_job(state: State, session: OperatorSession, request: Request, job_id: RowId) -> JobOut:
    """A queued job is cancelled at once, a running one stops when the runner next looks;
    409 for a job that has finished already."""
    job = _visible_job(state, session.user, job_id)
    if job.state in jobs.FINISHED:
        raise Refusal(409, "finished", "the job has finished already")
    cancelled = jobs.request_cancel(state.store, job_id)
    if cancelled is None:  # deleted meanwhile
        raise Refusal(404, "no_job", "no such job")
    _audit(state, request, Action.REANALYSIS_CANCEL, session.user, cancelled)
    return _out(state, cancelled)


@router.delete("/api/reanalysis/jobs/{job_id}", status_code=204)
def delete_job(state: State, session: OperatorSession, request: Request, job_id: RowId) -> Response:
    """Delete a finished job, its findings and its uploaded file; 409 while it runs."""
    _visible_job(state, session.user, job_id)
    try:
        deleted = jobs.delete_job(state.store, job_id)
    except ValueError:
        raise Refusal(409, "not_finished", "cancel the job before deleting it") from None
    if deleted is None:
        raise Refusal(404, "no_job", "no such job")
    uploads.remove(deleted.upload_path, _uploads(state))
    _audit(state, request, Action.REANALYSIS_DELETE, session.user, deleted)
    return Response(status_code=204)
