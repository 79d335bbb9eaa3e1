"""The tracked boxes of one camera over a WebSocket, for the page to draw over its live video.

Each message is one analysed frame: ``{"camera_id", "captured_at", "width", "height",
"boxes": [{"x1", "y1", "x2", "y2", "class_name", "track_id", "confidence"}, ...]}``, the
coordinates in pixels of a frame of ``width`` x ``height`` (the analysed picture, which has the
video's aspect but not its size). A frame without objects comes with no boxes, so the page can
clear what it drew. While the socket is open the camera counts as watched and the detection
core sends its boxes (:mod:`dashboard.services.overlay`); nothing is sent for a camera
without frames
to analyse (offline, or a still scene the motion gate holds back).

The socket is guarded like the alert feed (:mod:`dashboard.routes.feed`): a live session from
a page of this site, and a user who may see the camera's area; otherwise the handshake is
refused. When the session ends the socket is closed with code 4401.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from starlette.concurrency import run_in_threadpool

from dashboard.auth import COOKIE
from dashboard.metrics import DETECTION_SOCKETS
from dashboard.services.camera_access import visible_camera
from dashboard.sockets import SESSION_ENDED, next_item, socket_session, until_closed
from dashboard.state import DashboardState, State

router = APIRouter()
SESSION_CHECK_S = 2.0


async def _serve(websocket: WebSocket, state: DashboardState, camera_id: str, token: str) -> None:
    """Send frames until the page goes away or the session ends (then close with 4401)."""
    closed = asyncio.ensure_future(until_closed(websocket))
    checked = time.monotonic()
    try:
        async with state.detections.watch(camera_id) as frames:
            while not closed.done():
                if time.monotonic() - checked >= SESSION_CHECK_S:
                    if not await run_in_threadpool(state.accounts.session, token):
                        await websocket.close(code=SESSION_ENDED)
                        return
                    checked = time.monotonic()
                frame = await next_item(frames, closed, SESSION_CHECK_S)
                if frame is not None:
                    await websocket.send_json(dataclasses.asdict(frame))
    finally:
        closed.cancel()


@router.websocket("/ws/cameras/{camera_id}/detections")
async def camera_detections(websocket: WebSocket, state: State, camera_id: str) -> None:
    """Sends the tracked boxes of each frame of ``camera_id`` analysed from now on."""
    session = await run_in_threadpool(socket_session, state, websocket)
    if session is None or visible_camera(state.site, session.user, camera_id) is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()
    DETECTION_SOCKETS.inc()
    try:
        await _serve(websocket, state, camera_id, websocket.cookies[COOKIE])
    except WebSocketDisconnect:
        pass  # the page went away while we were sending: nothing left to do
    finally:
        DETECTION_SOCKETS.dec()
