"""Legal holds: the time ranges of cameras that retention must keep, for admins only.

An admin lists the holds in force, places one on a camera's time range (an admin's evidence
export places them too) and lifts one when the case is closed, saying why. Placing and
lifting are each audited in the transaction that does them (:mod:`common.recordings`).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request

from common import recordings
from dashboard.auth import ADMIN_ONLY, AdminSession, client_address
from dashboard.schemas.holds import HoldIn, HoldOut, LiftIn
from dashboard.schemas.ids import RowId
from dashboard.services.camera_access import find_camera
from dashboard.state import State

router = APIRouter()


@router.get("/api/holds", dependencies=[ADMIN_ONLY])
def list_holds(state: State) -> list[HoldOut]:
    """Every hold in force, newest first."""
    return [HoldOut.of(hold) for hold in recordings.legal_holds(state.store)]


@router.post("/api/holds", status_code=201)
def place_hold(state: State, session: AdminSession, request: Request, body: HoldIn) -> HoldOut:
    if find_camera(state.site, body.camera_id) is None:
        raise HTTPException(status_code=404, detail=f"no such camera: {body.camera_id}")
    if body.end <= body.start:
        raise HTTPException(status_code=422, detail="the range must end after it starts")
    hold_id = recordings.add_legal_hold(
        state.store,
        body.camera_id,
        start=body.start,
        end=body.end,
        reason=body.reason,
        by=session.user.username,
        at=time.time(),
        address=client_address(request),
    )
    hold = recordings.legal_hold(state.store, hold_id)
    assert hold is not None  # placed just now; only an admin's lift removes it
    return HoldOut.of(hold)


@router.post("/api/holds/{hold_id}/lift")
def lift_hold(
    state: State, session: AdminSession, request: Request, hold_id: RowId, body: LiftIn
) -> HoldOut:
    """End a hold: retention may remove its footage (and exports of it) once they are old."""
    hold = recordings.lift_legal_hold(
        state.store,
        hold_id,
        by=session.user.username,
        reason=body.reason,
        address=client_address(request),
    )
    if hold is None:
        raise HTTPException(status_code=404, detail="no such hold")
    return HoldOut.of(hold)
