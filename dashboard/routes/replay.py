"""Replay: a camera's recorded coverage, gaps and alerts over a time range, the segment
files themselves, and each alert's clip (pre- and post-roll around it).

Files are only ever served by segment id from the store, never by a path from the
request, so no request can reach a file outside the recordings. A segment a node recorded is
fetched from that node first (:mod:`common.node_footage`; a node down answers 502/504). Every
fetch of footage is audited (:mod:`dashboard.services.footage_audit`).

An ended alert's clip is cut once, on the first request, and kept (``clips/alert-ID.mp4``,
written under a name of its own and renamed into place); retention removes it with its
footage. An alert still open, or whose post-roll is not recorded yet (segments are indexed
when they are finished), has no final clip: each request gets a cut of what is recorded, in
a file of its own deleted once sent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from common import alert_rows, audit, recordings
from common.alert_query import alert_marks
from common.audit import Action
from common.evidence import (
    NoFootageError,
    alert_clip_window,
    clips_folder,
    cut_clip,
    stored_clip,
)
from common.node_footage import local_path, local_segments
from dashboard.auth import CurrentSession, client_address
from dashboard.schemas.ids import RowId
from dashboard.schemas.replay import (
    GapOut,
    MarkerOut,
    PlaybackOut,
    SegmentOut,
    TimelineOut,
)
from dashboard.services.camera_access import may_see, visible_camera
from dashboard.services.footage_audit import audit_footage
from dashboard.state import DashboardState, State

router = APIRouter()
MAX_RANGE_S = 2 * 86400
FOOTAGE_WAIT_S = 3600.0
"""A clip window that ended this long ago is final even if its camera recorded no more."""
_cutting: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
"""One lock per alert whose kept clip is being cut: requests that come meanwhile wait for
that cut instead of making their own (a lock goes when no request holds it)."""


def _visible_camera(state: DashboardState, session: CurrentSession, camera_id: str) -> None:
    if visible_camera(state.site, session.user, camera_id) is None:
        raise HTTPException(status_code=404, detail="no such camera")


@router.get("/api/cameras/{camera_id}/timeline")
def timeline(
    state: State,
    session: CurrentSession,
    camera_id: str,
    start: float = Query(ge=0),
    end: float = Query(ge=0),
) -> TimelineOut:
    """Recorded segments, coverage gaps and alert markers between ``start`` and ``end``."""
    _visible_camera(state, session, camera_id)
    if not 0 < end - start <= MAX_RANGE_S:
        raise HTTPException(status_code=422, detail="the range must be positive and at most 2 days")
    segments = recordings.segments(state.store, camera_id, start, end)
    gaps = recordings.coverage_gaps(state.store, camera_id, start)
    marks = alert_marks(state.store, camera_id, start, end)
    return TimelineOut(
        camera_id=camera_id,
        start=start,
        end=end,
        segments=[
            SegmentOut(
                id=s.id,
                start=s.start,
                end=s.end,
                url=f"/api/recordings/{s.id}/video.mp4",
                node=s.node,
            )
            for s in segments
        ],
        gaps=[GapOut(start=g.start, end=g.end, cause=g.cause) for g in gaps if g.start <= end],
        alerts=[MarkerOut(id=m.id, at=m.at, kind=m.kind, rule=m.rule) for m in marks],
    )


@router.get("/api/cameras/{camera_id}/playback")
def playback(
    state: State, session: CurrentSession, request: Request, camera_id: str, at: float = Query(ge=0)
) -> PlaybackOut:
    """The segment that holds moment ``at`` (or the next one after it); audited."""
    _visible_camera(state, session, camera_id)
    found = recordings.segments(state.store, camera_id, at, at + 3600)
    if not found:
        raise HTTPException(status_code=404, detail="nothing recorded at or after that moment")
    segment = found[0]
    audit.record(
        state.store,
        Action.PLAYBACK,
        session.user.username,
        target=camera_id,
        detail={"at": int(at)},
        address=client_address(request),
    )
    return PlaybackOut(
        segment_id=segment.id,
        url=f"/api/recordings/{segment.id}/video.mp4",
        offset_s=max(0.0, at - segment.start),
        start=segment.start,
        end=segment.end,
    )


@router.get("/api/recordings/{segment_id}/video.mp4")
def segment_video(
    state: State, session: CurrentSession, request: Request, segment_id: RowId
) -> FileResponse:
    """One recorded segment (byte ranges supported, so the player can seek); audited."""
    found = recordings.segment(state.store, segment_id)
    if found is None or not may_see(state.site, session.user, found.camera_id):
        raise HTTPException(status_code=404, detail="no such recording")
    cluster = state.site.cluster
    path = local_path(state.store, found, cluster.token_env, cluster.tls_ca)
    if not path.exists():
        raise HTTPException(status_code=404, detail="no such recording")
    detail: audit.Detail = {"segment": segment_id}
    audit_footage(
        state, session, request, action=Action.RECORDING_VIEW, target=found.camera_id, detail=detail
    )
    return FileResponse(path, media_type="video/mp4")


def _footage_complete(state: DashboardState, camera_id: str, end: float) -> bool:
    """Whether the camera's indexed recordings reach ``end``, or ``end`` is so long ago that
    nothing more will come."""
    last = recordings.last_segment_end(state.store, camera_id)
    return (last is not None and last >= end) or time.time() - end > FOOTAGE_WAIT_S


def _clip_file(
    state: DashboardState, camera_id: str, window: tuple[float, float], out: Path
) -> None:
    """Cut the window of the camera's recordings to ``out``; 404 when nothing is recorded."""
    found = recordings.segments(state.store, camera_id, *window)
    try:
        cluster = state.site.cluster
        on_disk = local_segments(state.store, found, cluster.token_env, cluster.tls_ca)
        cut_clip(on_disk, *window, out)
    except NoFootageError as exc:
        raise HTTPException(status_code=404, detail="nothing recorded around this alert") from exc


@router.get("/api/alerts/{alert_id}/clip.mp4")
async def alert_clip(
    state: State, session: CurrentSession, request: Request, alert_id: RowId
) -> FileResponse:
    """The alert's clip, from a pre-roll before it to a post-roll after it ended; audited."""
    alert = alert_rows.alert(state.store, alert_id)
    if alert is None or not may_see(state.site, session.user, alert.camera_id):
        raise HTTPException(status_code=404, detail="no such alert")
    window = alert_clip_window(alert.started_at, alert.ended_at, time.time())
    folder = clips_folder(state.store.path)
    folder.mkdir(parents=True, exist_ok=True)
    if alert.ended_at is None or not _footage_complete(state, alert.camera_id, window[1]):
        out = folder / f"alert-{alert_id}.open-{uuid.uuid4().hex}.mp4"
        await run_in_threadpool(_clip_file, state, alert.camera_id, window, out)
        cleanup: BackgroundTask | None = BackgroundTask(out.unlink, missing_ok=True)
    else:
        out, cleanup = stored_clip(folder, alert_id), None
        async with _cutting.setdefault(alert_id, asyncio.Lock()):
            if not out.exists():
                await run_in_threadpool(_clip_file, state, alert.camera_id, window, out)
    detail: audit.Detail = {"alert": alert_id}
    await run_in_threadpool(
        audit_footage,
        state,
        session,
        request,
        action=Action.CLIP_VIEW,
        target=alert.camera_id,
        detail=detail,
    )
    return FileResponse(out, media_type="video/mp4", background=cleanup)
