"""Alerts: filtered history with paging, pictures, acknowledge and resolve.

Every answer is limited to the cameras of the user's areas; an alert of another area is
answered 404, as if it did not exist.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from common import alert_rows
from common.accounts import Session, User
from common.alert_query import SITE_WIDE, AlertFilter, search
from common.alert_reviews import ReviewAction, ReviewConflictError, UnknownAlertError, review_alert
from common.alert_rows import AlertRecord
from common.audit import Action, Detail
from common.messages import AlertNotice
from dashboard.auth import CurrentSession, OperatorSession, client_address
from dashboard.schemas.alerts import AlertOut, AlertQuery, ReviewIn
from dashboard.schemas.ids import RowId
from dashboard.services.alert_views import alerts_out
from dashboard.services.camera_access import may_see, visible_cameras
from dashboard.services.footage_audit import audit_footage
from dashboard.services.jpeg import jpeg_response
from dashboard.state import DashboardState, State

router = APIRouter()


def camera_scope(
    state: DashboardState, user: User, camera: str | None = None, area: str | None = None
) -> frozenset[str] | None:
    """The camera ids a query may cover; None when it is every camera there is.

    Unless one camera is asked for, the site-wide alerts are in scope too: they concern
    every area.
    """
    cameras = visible_cameras(state.site, user)
    if camera is None and area is None and len(cameras) == len(state.site.cameras):
        return None
    scope = {cam.id for cam in cameras if camera in (None, cam.id) and area in (None, cam.area)}
    return frozenset(scope | {SITE_WIDE} if camera is None else scope)


@router.get("/api/alerts")
def list_alerts(
    state: State, session: CurrentSession, query: Annotated[AlertQuery, Query()]
) -> list[AlertOut]:
    """Newest first; pass the smallest id seen as ``before`` for the previous page."""
    wanted = AlertFilter(
        camera_ids=camera_scope(state, session.user, query.camera, query.area),
        rule=query.rule,
        class_name=query.class_name,
        state=query.state,
        since=query.since,
        until=query.until,
    )
    return alerts_out(
        state.site, state.store, search(state.store, wanted, query.limit, query.before)
    )


def visible_alert(state: DashboardState, user: User, alert_id: int) -> AlertRecord:
    """The alert if it exists and the user may see its camera, else 404."""
    alert = alert_rows.alert(state.store, alert_id)
    if alert is None or not may_see(state.site, user, alert.camera_id):
        raise HTTPException(status_code=404, detail="no such alert")
    return alert


def _jpeg(
    state: DashboardState, session: Session, request: Request, alert_id: int, crop: bool
) -> Response:
    """The picture, audited (:mod:`dashboard.services.footage_audit`)."""
    alert = visible_alert(state, session.user, alert_id)
    response = jpeg_response(alert_rows.snapshot(state.store, alert_id, crop=crop))
    detail: Detail = {"alert": alert_id, "picture": "crop" if crop else "snapshot"}
    audit_footage(
        state, session, request, action=Action.PICTURE_VIEW, target=alert.camera_id, detail=detail
    )
    return response


@router.get("/api/alerts/{alert_id}/snapshot.jpg")
def alert_snapshot(
    state: State, session: CurrentSession, request: Request, alert_id: RowId
) -> Response:
    return _jpeg(state, session, request, alert_id, crop=False)


@router.get("/api/alerts/{alert_id}/crop.jpg")
def alert_crop(
    state: State, session: CurrentSession, request: Request, alert_id: RowId
) -> Response:
    return _jpeg(state, session, request, alert_id, crop=True)


def _apply_review(
    state: DashboardState,
    alert_id: int,
    action: ReviewAction,
    *,
    user: User,
    note: str,
    address: str,
) -> AlertOut:
    visible_alert(state, user, alert_id)
    try:
        review_alert(state.store, alert_id, action, user=user, note=note.strip(), address=address)
    except UnknownAlertError:
        raise HTTPException(status_code=404, detail="no such alert") from None
    except ReviewConflictError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return alerts_out(state.site, state.store, [visible_alert(state, user, alert_id)])[0]


async def _review(
    state: DashboardState,
    request: Request,
    alert_id: int,
    action: ReviewAction,
    *,
    session: Session,
    note: str,
) -> AlertOut:
    """Review in a worker thread, then tell every open dashboard (on the loop's thread)."""
    apply = partial(
        _apply_review,
        state,
        alert_id,
        action,
        user=session.user,
        note=note,
        address=client_address(request),
    )
    alert = await run_in_threadpool(apply)
    state.bus.publish(AlertNotice(alert.id, alert.camera_id, alert.kind, updated=True))
    return alert


@router.post("/api/alerts/{alert_id}/acknowledge")
async def acknowledge(
    state: State, session: OperatorSession, request: Request, alert_id: RowId, body: ReviewIn
) -> AlertOut:
    """Someone is looking at it: operators and admins only; 409 unless the alert is new."""
    action = ReviewAction.ACKNOWLEDGE
    return await _review(state, request, alert_id, action, session=session, note=body.note)


@router.post("/api/alerts/{alert_id}/resolve")
async def resolve(
    state: State, session: OperatorSession, request: Request, alert_id: RowId, body: ReviewIn
) -> AlertOut:
    """It is dealt with: operators and admins only; 409 when resolved already."""
    action = ReviewAction.RESOLVE
    return await _review(state, request, alert_id, action, session=session, note=body.note)
