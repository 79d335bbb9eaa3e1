"""Investigation search: the best sighting of every ended track, found by class, colour,
camera, area, zone and time, and "more like this" ranked across cameras.

Scoped like the plates (:mod:`dashboard.routes.plates`): every user searches the sightings of
the cameras of their areas (a camera or area of another area gives an empty list), and a
sighting of another area is answered 404, as if it did not exist: its crop, and a "more
like this" about it. Each crop view is audited like an alert's picture
(:mod:`dashboard.services.footage_audit`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from common import sightings
from common.accounts import User
from common.audit import Action
from common.sightings import SightingQuery, SightingRecord
from dashboard.auth import CurrentSession
from dashboard.schemas.ids import RowId
from dashboard.schemas.sightings import (
    SearchCameraOut,
    SightingOptionsOut,
    SightingOut,
    SightingSearch,
)
from dashboard.services.camera_access import find_camera, may_see, search_scope, visible_cameras
from dashboard.services.footage_audit import audit_footage
from dashboard.services.jpeg import jpeg_response
from dashboard.state import DashboardState, State
from detect.appearance import COLOURS

router = APIRouter()


def _query(state: DashboardState, user: User, search: SightingSearch) -> SightingQuery:
    return SightingQuery(
        class_name=search.class_name,
        colour=search.colour,
        cameras=search_scope(state.site, user, search.camera, search.area),
        zone=search.zone,
        since=search.since,
        until=search.until,
        limit=search.limit,
    )


def _visible(state: DashboardState, user: User, sighting_id: int) -> SightingRecord:
    """The sighting, or 404 when there is none or the user may not see its camera."""
    found = sightings.sighting(state.store, sighting_id)
    if found is None or not may_see(state.site, user, found.camera_id):
        raise HTTPException(status_code=404, detail="no such sighting")
    return found


@router.get("/api/sightings")
def search_sightings(
    state: State, session: CurrentSession, search: Annotated[SightingSearch, Query()]
) -> list[SightingOut]:
    """The sightings that match: the most of the colour first when one is asked, else the
    newest first."""
    found = sightings.search(state.store, _query(state, session.user, search))
    return [SightingOut.of(record, find_camera(state.site, record.camera_id)) for record in found]


@router.get("/api/sightings/options")
def sighting_options(state: State, session: CurrentSession) -> SightingOptionsOut:
    """The classes, colours, cameras, areas and zones the search form offers the user."""
    cameras = visible_cameras(state.site, session.user)
    kept = sightings.class_names(state.store, search_scope(state.site, session.user, None, None))
    watched = {name for camera in cameras for rule in camera.rules for name in rule.classes}
    classes = sorted(set(kept) | watched, key=lambda name: (name != "person", name))
    return SightingOptionsOut(
        classes=classes,
        colours=list(COLOURS),
        cameras=[
            SearchCameraOut(
                id=camera.id,
                name=camera.name,
                area=camera.area,
                zones=[zone.name for zone in camera.zones],
            )
            for camera in cameras
        ],
        areas=sorted({camera.area for camera in cameras if camera.area}),
        zones=sorted({zone.name for camera in cameras for zone in camera.zones}),
    )


@router.get("/api/sightings/{sighting_id}/similar")
def similar_sightings(
    state: State,
    session: CurrentSession,
    sighting_id: RowId,
    search: Annotated[SightingSearch, Query()],
) -> list[SightingOut]:
    """The sightings of every camera the user sees (narrowed like a search, of the asked
    one's class unless another is named) ranked by how alike they look to the asked one,
    each with its score; the asked one is left out. 404 for a sighting of another area."""
    _visible(state, session.user, sighting_id)
    ranked = sightings.similar(state.store, sighting_id, _query(state, session.user, search))
    return [
        SightingOut.of(record, find_camera(state.site, record.camera_id), score)
        for record, score in ranked
    ]


@router.get("/api/sightings/{sighting_id}/crop.jpg")
def sighting_crop(
    state: State, session: CurrentSession, request: Request, sighting_id: RowId
) -> Response:
    """The sighting's crop: 404 unless the user sees its camera; audited."""
    found = _visible(state, session.user, sighting_id)
    response = jpeg_response(sightings.crop(state.store, sighting_id))
    audit_footage(
        state,
        session,
        request,
        action=Action.PICTURE_VIEW,
        target=found.camera_id,
        detail={"sighting": sighting_id, "picture": "sighting"},
    )
    return response
