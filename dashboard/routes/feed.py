"""The live alert feed over a WebSocket: new alerts, and changes to alerts already shown.

Each message is one :class:`~dashboard.schemas.alerts.AlertOut`; the page replaces an alert it
has (same id) or adds a new one. A socket gets the alerts of the user's areas and every
site-wide one (analysis down, disk low: :meth:`~dashboard.state.DashboardState.may_see`).
The socket needs a live session like every other route: without one the handshake is
refused, and when the session ends (logout, expiry, idle timeout, user disabled) the
socket is closed with code 4401 so the page goes to the login page.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from starlette.concurrency import run_in_threadpool

from common import alert_rows
from common.accounts import Session
from common.messages import AlertNotice
from dashboard.auth import COOKIE
from dashboard.metrics import WEBSOCKET_CLIENTS
from dashboard.schemas.alerts import AlertOut
from dashboard.schemas.ids import SQLITE_MAX_INTEGER
from dashboard.services.alert_views import alerts_out
from dashboard.services.camera_access import may_see
from dashboard.sockets import SESSION_ENDED, next_item, socket_session, until_closed
from dashboard.state import DashboardState, State

router = APIRouter()
CATCH_UP_EVERY_S = 2.0
CATCH_UP_BATCH = 500


class _Feed:
    """What one socket has sent so far, and what it may see."""

    def __init__(self, state: DashboardState, session: Session, after: int) -> None:
        self._state = state
        self._user = session.user
        self.last = after

    def new_alerts(self) -> list[AlertOut]:
        """Every visible alert above the last one sent, oldest first."""
        visible = []
        while True:
            batch = alert_rows.alerts_after(self._state.store, self.last, CATCH_UP_BATCH)
            visible += [a for a in batch if may_see(self._state.site, self._user, a.camera_id)]
            self.last = batch[-1].id if batch else self.last
            if len(batch) < CATCH_UP_BATCH:
                return alerts_out(self._state.site, self._state.store, visible)

    def changed(self, notice: AlertNotice | None) -> list[AlertOut]:
        """The alert a notice says was changed, if this socket has shown it."""
        if notice is None or not notice.updated or notice.alert_id > self.last:
            return []
        alert = alert_rows.alert(self._state.store, notice.alert_id)
        if alert is None or not may_see(self._state.site, self._user, alert.camera_id):
            return []
        return alerts_out(self._state.site, self._state.store, [alert])


async def _serve(websocket: WebSocket, state: DashboardState, feed: _Feed, token: str) -> None:
    """Send alerts until the page goes away or the session ends (then close with 4401)."""
    closed = asyncio.ensure_future(until_closed(websocket))
    try:
        async with state.bus.subscribe() as notices:
            while not closed.done():
                if not await run_in_threadpool(state.accounts.session, token):
                    await websocket.close(code=SESSION_ENDED)
                    return
                for alert in await run_in_threadpool(feed.new_alerts):
                    await websocket.send_json(alert.model_dump())
                notice = await next_item(notices, closed, CATCH_UP_EVERY_S)
                for alert in await run_in_threadpool(feed.changed, notice):
                    await websocket.send_json(alert.model_dump())
    finally:
        closed.cancel()


@router.websocket("/ws/alerts")
async def alert_feed(
    websocket: WebSocket,
    state: State,
    after: Annotated[int, Query(ge=0, le=SQLITE_MAX_INTEGER)] = 0,
) -> None:
    """Sends every alert with an id above ``after``, then each new or changed one.

    A notice on the bus wakes the sender; it also looks at the store every few seconds,
    so a notice lost on the way only delays an alert, never hides it. A task listens for
    the page going away, so a closed tab ends its handler at once, not at the next send.
    """
    session = await run_in_threadpool(socket_session, state, websocket)
    if session is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()
    WEBSOCKET_CLIENTS.inc()
    try:
        await _serve(websocket, state, _Feed(state, session, after), websocket.cookies[COOKIE])
    except WebSocketDisconnect:
        pass  # the page went away while we were sending: nothing left to do
    finally:
        WEBSOCKET_CLIENTS.dec()
