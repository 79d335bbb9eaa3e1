"""Plates: the search of the plates read on the cameras, a read's picture, and the watch list.

Every user searches the reads of the cameras of their areas (a camera or area of another
area gives an empty list, as the alert list does) and sees their pictures (another area's
read is answered 404, as if it did not exist); each picture view is audited like an alert's
(:mod:`dashboard.services.footage_audit`).

The watch list is the site's, not an area's: every user sees it (the alerts it raises name
its entries), operators and admins add and remove entries, each change audited in the
transaction that makes it (:func:`common.plates.add_watch`).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from common import plates
from common.audit import Action
from common.plates import PlateQuery, WatchPatternError
from dashboard.auth import CurrentSession, OperatorSession, client_address
from dashboard.refusals import Refusal
from dashboard.schemas.ids import RowId
from dashboard.schemas.plates import PlateReadOut, PlateSearch, WatchEntryOut, WatchIn
from dashboard.services.camera_access import find_camera, may_see, search_scope
from dashboard.services.footage_audit import audit_footage
from dashboard.services.jpeg import jpeg_response
from dashboard.state import State

router = APIRouter()


@router.get("/api/plates")
def search_plates(
    state: State, session: CurrentSession, query: Annotated[PlateSearch, Query()]
) -> list[PlateReadOut]:
    """Newest first; pass the last id of a page as ``before_id`` for the next."""
    wanted = PlateQuery(
        text=query.q,
        cameras=search_scope(state.site, session.user, query.camera, query.area),
        since=query.since,
        until=query.until,
        limit=query.limit,
        before_id=query.before_id,
    )
    reads = plates.search_reads(state.store, wanted)
    return [PlateReadOut.of(read, find_camera(state.site, read.camera_id)) for read in reads]


@router.get("/api/plates/watch")
def list_watch(state: State, _session: CurrentSession) -> list[WatchEntryOut]:
    """The watch list, newest first."""
    return [WatchEntryOut.of(entry) for entry in plates.watch_entries(state.store)]


@router.post("/api/plates/watch", status_code=201)
def add_watch(
    state: State, session: OperatorSession, request: Request, body: WatchIn
) -> WatchEntryOut:
    """Watch for a plate: 422 naming what is wrong with a pattern that is not a plate's
    (``detail.code``: ``too_long``, ``characters``, ``too_short``), 409 when it is listed."""
    try:
        entry = plates.add_watch(
            state.store,
            body.pattern,
            note=body.note.strip(),
            by=session.user.username,
            at=time.time(),
            address=client_address(request),
        )
    except WatchPatternError as error:
        raise Refusal(
            422, error.problem, str(error), pattern=body.pattern, characters=error.characters
        ) from None
    if entry is None:
        pattern = plates.normal_pattern(body.pattern)
        raise Refusal(409, "listed", f"{pattern} is on the watch list already", pattern=pattern)
    return WatchEntryOut.of(entry)


@router.delete("/api/plates/watch/{entry_id}", status_code=204)
def remove_watch(
    state: State, session: OperatorSession, request: Request, entry_id: RowId
) -> Response:
    """Stop watching for an entry's plates; 404 when there is no such entry."""
    removed = plates.remove_watch(
        state.store, entry_id, by=session.user.username, address=client_address(request)
    )
    if removed is None:
        raise HTTPException(status_code=404, detail="no such watch-list entry")
    return Response(status_code=204)


@router.get("/api/plates/{read_id}/crop.jpg")
def plate_picture(
    state: State, session: CurrentSession, request: Request, read_id: RowId
) -> Response:
    """The plate's picture: 404 unless the user sees the read's camera; audited."""
    read = plates.plate_read(state.store, read_id)
    if read is None or not may_see(state.site, session.user, read.camera_id):
        raise HTTPException(status_code=404, detail="no such plate read")
    response = jpeg_response(plates.plate_crop(state.store, read_id))
    audit_footage(
        state,
        session,
        request,
        action=Action.PICTURE_VIEW,
        target=read.camera_id,
        detail={"plate_read": read_id, "picture": "plate"},
    )
    return response
