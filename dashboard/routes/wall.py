"""The live wall: its page and each user's saved layouts (:mod:`common.wall_layouts`).

Any logged-in user keeps their own layouts: list them, save one (a new name adds it, a name
they have replaces it), delete one. A layout may name only cameras the user sees (their
areas): another camera is answered 404, as if it did not exist, like every other route about
a camera. Layouts are read back through the same filter, so a camera since removed from the
site or from the user's areas leaves its tile empty rather than showing on the wall.

The list also says how many live views the user may hold at once
(``dashboard.live_peers_per_user``): the page shows the cap message on the tiles past it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import HTMLResponse

from common import wall_layouts
from common.accounts import User
from dashboard.auth import PAGE, CurrentSession, client_address
from dashboard.schemas.wall import LayoutIn, LayoutOut, LayoutsOut, TileOut
from dashboard.services.camera_access import visible_camera, visible_cameras
from dashboard.services.page_shell import page
from dashboard.state import DashboardState, State

router = APIRouter()
NAME_PATTERN = r"^[^/\s]([^/\x00-\x1f]*[^/\s])?$"
"""A layout name: no slash or control character, no space at either end (Vietnamese is fine)."""
LayoutName = Annotated[str, Path(min_length=1, max_length=60, pattern=NAME_PATTERN)]


def _out(state: DashboardState, user: User, layout: wall_layouts.WallLayout) -> LayoutOut:
    """The layout as the user may see it now: a camera they no longer see is left out."""
    visible = {camera.id for camera in visible_cameras(state.site, user)}
    tiles = [
        TileOut(camera_id=tile.camera_id if tile.camera_id in visible else None, pinned=tile.pinned)
        for tile in layout.tiles
    ]
    return LayoutOut(
        name=layout.name,
        grid=layout.grid,
        tiles=tiles,
        pull_alerts=layout.pull_alerts,
        saved_at=layout.saved_at,
    )


@router.get("/wall/live", dependencies=[PAGE], include_in_schema=False)
def live_wall_page() -> HTMLResponse:
    """The live wall; the thumbnails wall stays at ``/cameras``."""
    return page("wall_live")


@router.get("/api/wall/layouts")
def list_layouts(state: State, session: CurrentSession) -> LayoutsOut:
    user = session.user
    return LayoutsOut(
        layouts=[
            _out(state, user, layout) for layout in wall_layouts.of_user(state.store, user.id)
        ],
        live_peers_per_user=state.site.dashboard.live_peers_per_user,
    )


@router.put("/api/wall/layouts/{layout_name}")
def save_layout(
    state: State,
    session: CurrentSession,
    request: Request,
    layout_name: LayoutName,
    layout: LayoutIn,
) -> LayoutOut:
    """Save the user's layout ``layout_name`` (replacing one of that name); audited."""
    user = session.user
    named = {tile.camera_id for tile in layout.tiles if tile.camera_id is not None}
    for camera_id in sorted(named):
        if visible_camera(state.site, user, camera_id) is None:
            raise HTTPException(status_code=404, detail=f"no such camera: {camera_id}")
    saved = wall_layouts.save(
        state.store,
        user_id=user.id,
        username=user.username,
        name=layout_name,
        grid=layout.grid,
        tiles=tuple(wall_layouts.WallTile(tile.camera_id, tile.pinned) for tile in layout.tiles),
        pull_alerts=layout.pull_alerts,
        address=client_address(request),
    )
    return _out(state, user, saved)


@router.delete("/api/wall/layouts/{layout_name}", status_code=204)
def delete_layout(
    state: State, session: CurrentSession, request: Request, layout_name: LayoutName
) -> Response:
    """Delete one of the user's layouts; 404 if they have none of that name; audited."""
    user = session.user
    deleted = wall_layouts.delete(
        state.store,
        user_id=user.id,
        username=user.username,
        name=layout_name,
        address=client_address(request),
    )
    if not deleted:
        raise HTTPException(status_code=404, detail="no such layout")
    return Response(status_code=204)
