"""The hub's HTTP API: log in and out, who is logged in, and the overview of the stations
the user may see. Nothing here changes a station: the hub is read-only (acknowledging an
alert is the station's work, where its operators see the live picture)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from common import alert_rows, audit, camera_states
from common.accounts import Session
from common.alert_query import open_alert_count
from common.audit import Action
from dashboard.auth import check_origin, client_address
from dashboard.hub.schemas.hub import (
    HubAlertOut,
    HubCameraOut,
    HubLoginIn,
    HubMeOut,
    HubOverviewOut,
    HubStationOut,
)
from dashboard.hub.state import HubState, HubStateDep
from dashboard.services.login_throttle import LoginThrottledError

router = APIRouter()
COOKIE = "matthan_hub_session"
ALERTS_SHOWN = 100


def hub_session(request: Request, state: HubStateDep) -> Session:
    """401 without a live session (the hub's own cookie)."""
    token = request.cookies.get(COOKIE)
    config = state.config.dashboard
    session = (
        state.accounts.touch_session(
            token, config.idle_timeout_minutes * 60, config.session_hours * 3600
        )
        if token
        else None
    )
    if session is None:
        raise HTTPException(status_code=401, detail="login required")
    return session


HubSession = Annotated[Session, Depends(hub_session)]


@router.post("/api/hub/login")
def login(body: HubLoginIn, request: Request, response: Response, state: HubStateDep) -> HubMeOut:
    """Open a session (cookie); 401 on a wrong name or password, 429 while throttled."""
    check_origin(request)
    address = client_address(request)
    try:
        with state.logins.attempt(address, body.username) as attempt:
            user = state.accounts.authenticate(body.username, body.password)
            if user is None:
                attempt.failed()
    except LoginThrottledError as exc:
        headers = {"Retry-After": str(exc.retry_after_s)}
        raise HTTPException(status_code=exc.status, detail=str(exc), headers=headers) from None
    store = state.accounts.store
    if user is None:
        audit.record(store, Action.LOGIN_FAILED, "", target="", address=address)
        raise HTTPException(status_code=401, detail="wrong user name or password")
    config = state.config.dashboard
    lifetime_s = config.session_hours * 3600
    token, session = state.accounts.open_session(
        user, min(config.idle_timeout_minutes * 60, lifetime_s), address
    )
    audit.record(store, Action.LOGIN_OK, user.username, address=address)
    response.set_cookie(
        COOKIE,
        token,
        max_age=round(lifetime_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return _me(state, session)


@router.post(
    "/api/hub/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(hub_session)],
)
def logout(request: Request, response: Response, state: HubStateDep) -> None:
    check_origin(request)
    state.accounts.close_session(request.cookies[COOKIE])
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


@router.get("/api/hub/me")
def me(session: HubSession, state: HubStateDep) -> HubMeOut:
    return _me(state, session)


def _me(state: HubState, session: Session) -> HubMeOut:
    user = session.user
    return HubMeOut(
        username=user.username, role=user.role, language=user.language, hub=state.config.hub.id
    )


@router.get("/api/hub/stations/{station_id}/alerts/{alert_id}/snapshot.jpg")
def snapshot(station_id: str, alert_id: int, session: HubSession, state: HubStateDep) -> Response:
    """The picture of one station's alert; 404 for a station the user may not see."""
    visible = {station.id for station in state.stations_of(session.user)}
    store = state.stores.get(station_id) if station_id in visible else None
    picture = alert_rows.snapshot(store, alert_id) if store is not None else None
    if picture is None:
        raise HTTPException(status_code=404, detail="no such alert")
    return Response(picture, media_type="image/jpeg")  # not cached: the station's policy


@router.get("/api/hub/overview")
def overview(session: HubSession, state: HubStateDep) -> HubOverviewOut:
    """Each station the user may see: its link, its cameras' last states and its open alerts;
    and their newest alerts, merged newest first."""
    stations: list[HubStationOut] = []
    alerts: list[HubAlertOut] = []
    for station in state.stations_of(session.user):
        store = state.stores[station.id]
        link = state.links[station.id]()
        cameras = [
            HubCameraOut(
                id=camera_id, state=str(status.state), since=status.at, detail=status.detail
            )
            for camera_id, status in sorted(camera_states.latest_camera_states(store).items())
        ]
        stations.append(
            HubStationOut(
                id=station.id,
                name=station.name,
                link_up=link.up,
                lag=link.lag,
                checked_at=link.checked_at,
                last_event_at=link.last_event_at,
                error=link.error,
                open_alerts=open_alert_count(store),
                cameras=cameras,
            )
        )
        alerts += [
            HubAlertOut(
                station=station.id,
                id=alert.id,
                camera_id=alert.camera_id,
                kind=alert.kind,
                severity=alert.severity,
                started_at=alert.started_at,
                ended_at=alert.ended_at,
            )
            for alert in alert_rows.recent_alerts(store, ALERTS_SHOWN)
        ]
    alerts.sort(key=lambda alert: (alert.started_at, alert.id), reverse=True)
    return HubOverviewOut(hub=state.config.hub.id, stations=stations, alerts=alerts[:ALERTS_SHOWN])
