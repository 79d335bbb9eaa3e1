"""Cameras: the wall of every camera with its state, one camera, and its thumbnail."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from common import camera_states
from common.config import CameraConfig
from common.heartbeat import BEAT_EVERY_S, heartbeat_ages
from common.messages import CameraState, CameraStatus
from common.roles import DETECT_ROLE
from dashboard.auth import CurrentSession
from dashboard.no_store import NO_STORE
from dashboard.schemas.cameras import CameraOut, DecodeMode
from dashboard.services.camera_access import find_camera, visible_cameras
from dashboard.services.thumbnails import Thumbnails
from dashboard.state import DashboardState, State

router = APIRouter()
DETECTOR_STALE_AFTER_S = 5 * BEAT_EVERY_S
"""A detector silent this long leaves its cameras' analysis degraded (as /readyz judges)."""


def detector_stale(state: DashboardState) -> bool:
    """True when a detection role has beaten before but not for a while."""
    ages = heartbeat_ages(state.store)
    return any(
        age > DETECTOR_STALE_AFTER_S for role, age in ages.items() if role.startswith(DETECT_ROLE)
    )


def camera_out(
    camera: CameraConfig,
    status: CameraStatus | None,
    stale: bool,
    thumbnails: Thumbnails,
    *,
    keyframes_only: bool | None = None,
) -> CameraOut:
    if not camera.enabled:
        state = "disabled"
    elif status is None:
        state = "unknown"
    elif status.state is CameraState.ONLINE and stale:
        state = "degraded"
    else:
        state = status.state.value
    picture = thumbnails.newest(camera.id)
    decode: DecodeMode | None = None
    if keyframes_only is not None and state in {"online", "degraded"}:
        decode = "keyframes_only" if keyframes_only else "full"
    return CameraOut(
        id=camera.id,
        name=camera.name,
        area=camera.area,
        state=state,
        state_since=status.at if status else None,
        detail=status.detail if status else "",
        rules=[rule.name for rule in camera.rules],
        thumbnail_url=f"/api/cameras/{camera.id}/thumbnail.jpg",
        thumbnail_at=picture.taken_at if picture else None,
        decode=decode,
    )


@router.get("/api/cameras")
def list_cameras(state: State, session: CurrentSession) -> list[CameraOut]:
    """Every camera of the user's areas with its last reported state, in config order."""
    states = camera_states.latest_camera_states(state.store)
    modes = camera_states.keyframes_only_cameras(state.store)
    stale = detector_stale(state)
    return [
        camera_out(
            camera,
            states.get(camera.id),
            stale,
            state.thumbnails,
            keyframes_only=modes.get(camera.id),
        )
        for camera in visible_cameras(state.site, session.user)
    ]


def _visible_camera(state: DashboardState, session: CurrentSession, camera_id: str) -> CameraConfig:
    camera = find_camera(state.site, camera_id)
    if camera is None or not session.user.sees_area(camera.area):
        raise HTTPException(status_code=404, detail="no such camera")
    return camera


@router.get("/api/cameras/{camera_id}")
def get_camera(state: State, session: CurrentSession, camera_id: str) -> CameraOut:
    camera = _visible_camera(state, session, camera_id)
    status = camera_states.latest_camera_states(state.store).get(camera_id)
    keyframes_only = camera_states.keyframes_only_cameras(state.store).get(camera_id)
    return camera_out(
        camera, status, detector_stale(state), state.thumbnails, keyframes_only=keyframes_only
    )


@router.get("/api/cameras/{camera_id}/thumbnail.jpg")
def camera_thumbnail(
    state: State, session: CurrentSession, request: Request, camera_id: str
) -> Response:
    """The camera's newest small picture (see :mod:`dashboard.services.thumbnails`); 404 while there
    is none. Never stored by the browser (:mod:`dashboard.no_store`); a client that sends the
    ETag back for an unchanged picture gets a 304."""
    _visible_camera(state, session, camera_id)
    thumbnail = state.thumbnails.latest(camera_id)
    if thumbnail is None:
        raise HTTPException(status_code=404, detail="no picture of this camera yet")
    headers = {"Cache-Control": NO_STORE, "ETag": thumbnail.etag}
    if request.headers.get("if-none-match") == thumbnail.etag:
        return Response(status_code=304, headers=headers)
    return Response(thumbnail.jpeg, media_type="image/jpeg", headers=headers)
