"""Cameras and their health."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.schemas import CameraOut, SiteOut
from dashboard.state import State

router = APIRouter()


@router.get("/api/site")
def site(state: State) -> SiteOut:
    return SiteOut(name=state.site.site.name, language=state.site.dashboard.language)


@router.get("/api/cameras")
def list_cameras(state: State) -> list[CameraOut]:
    """Every configured camera with its last reported state."""
    states = state.store.latest_camera_states()
    cameras = []
    for camera in state.site.cameras:
        status = states.get(camera.id)
        cameras.append(
            CameraOut(
                id=camera.id,
                name=camera.name,
                area=camera.area,
                state=status.state.value
                if status
                else ("disabled" if not camera.enabled else "unknown"),
                state_since=status.at if status else None,
                detail=status.detail if status else "",
            )
        )
    return cameras
