"""Alerts: history with paging, pictures, and the live feed over WebSocket."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dashboard.metrics import WEBSOCKET_CLIENTS
from dashboard.schemas import AlertOut
from dashboard.state import DashboardState, State

router = APIRouter()
CATCH_UP_EVERY_S = 2.0


@router.get("/api/alerts")
def list_alerts(
    state: State,
    limit: int = Query(default=50, ge=1, le=500),
    before: int | None = Query(default=None, ge=1),
) -> list[AlertOut]:
    """Newest first; pass the smallest id seen as ``before`` for the previous page."""
    return [state.alert_out(alert) for alert in state.store.recent_alerts(limit, before)]


def _jpeg(state: DashboardState, alert_id: int, crop: bool) -> Response:
    data = state.store.snapshot(alert_id, crop=crop)
    if data is None:
        raise HTTPException(status_code=404, detail="no such picture")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})


@router.get("/api/alerts/{alert_id}/snapshot.jpg")
def alert_snapshot(state: State, alert_id: int) -> Response:
    return _jpeg(state, alert_id, crop=False)


@router.get("/api/alerts/{alert_id}/crop.jpg")
def alert_crop(state: State, alert_id: int) -> Response:
    return _jpeg(state, alert_id, crop=True)


@router.websocket("/ws/alerts")
async def alert_feed(websocket: WebSocket, state: State, after: int = 0) -> None:
    """Sends every alert with an id above ``after``, then each new one as it is stored.

    A notice on the bus wakes the sender; it also looks at the store every few seconds,
    so a notice lost on the way only delays an alert, never hides it.
    """
    await websocket.accept()
    WEBSOCKET_CLIENTS.inc()
    last = after
    try:
        async with state.bus.subscribe() as notices:
            while True:
                alerts = await run_in_threadpool(state.store.alerts_after, last)
                for alert in alerts:
                    await websocket.send_json(state.alert_out(alert).model_dump())
                    last = alert.id
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(notices.get(), timeout=CATCH_UP_EVERY_S)
    except WebSocketDisconnect:
        pass
    finally:
        WEBSOCKET_CLIENTS.dec()
