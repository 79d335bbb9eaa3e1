"""The tracked boxes of one camera over a WebSocket, for the page to draw over its live video.

Each message is one analysed frame: ``{"camera_id", "captured_at", "width", "height",
"boxes": [{"x1", "y1", "x2", "y2", "class_name", "track_id", "confidence"}, ...]}``, the
coordinates in pixels of a frame of ``width`` x ``height`` (the analysed picture, which has the
video's aspect but not its size). A frame without objects comes with no boxes, so the page can
clear what it drew. While the socket is open the camera counts as watched and the detection
core sends its boxes (:mod:`dashboard.overlay`); nothing is sent for a camera without frames
to analyse (offline, or a still scene the motion gate holds back).

The socket is guarded like the alert feed (:mod:`dashboard.routes_feed`): a live session from
a page of this site, and a user who may see the camera's area; otherwise the handshake is
refused. When the session ends the socket is closed with code 4401.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from starlette.concurrency import run_in_threadpool

from common.accounts import Session
from common.messages import FrameDetections
from dashboard.auth import COOKIE, connection_session, same_origin
from dashboard.metrics import DETECTION_SOCKETS
from dashboard.routes_feed import SESSION_ENDED
from dashboard.state import DashboardState, State

router = APIRouter()
SESSION_CHECK_S = 2.0


def _session(state: DashboardState, websocket: WebSocket) -> Session | None:
    """The socket's session; None also when a page of another site opened it."""
    return connection_session(state, websocket) if same_origin(websocket) else None


async def _until_closed(websocket: WebSocket) -> None:
    """Returns when the page goes away (it sends nothing else that matters)."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        continue


async def _next_frame(
    frames: asyncio.Queue[FrameDetections], closed: asyncio.Future[None]
) -> FrameDetections | None:
    """The next frame; None after a quiet while or when the page went away."""
    getter = asyncio.ensure_future(frames.get())
    either: list[asyncio.Future[Any]] = [getter, closed]
    await asyncio.wait(either, timeout=SESSION_CHECK_S, return_when="FIRST_COMPLETED")
    if getter.cancel():
        return None
    return getter.result()  # it completed just before the cancel


async def _serve(websocket: WebSocket, state: DashboardState, camera_id: str, token: str) -> None:
    """Send frames until the page goes away or the session ends (then close with 4401)."""
    closed = asyncio.ensure_future(_until_closed(websocket))
    checked = time.monotonic()
    try:
        async with state.detections.watch(camera_id) as frames:
            while not closed.done():
                if time.monotonic() - checked >= SESSION_CHECK_S:
                    if not await run_in_threadpool(state.accounts.session, token):
                        await websocket.close(code=SESSION_ENDED)
                        return
                    checked = time.monotonic()
                frame = await _next_frame(frames, closed)
                if frame is not None:
                    await websocket.send_json(dataclasses.asdict(frame))
    finally:
        closed.cancel()


@router.websocket("/ws/cameras/{camera_id}/detections")
async def camera_detections(websocket: WebSocket, state: State, camera_id: str) -> None:
    """Sends the tracked boxes of each frame of ``camera_id`` analysed from now on."""
    session = await run_in_threadpool(_session, state, websocket)
    if (
        session is None
        or state.camera(camera_id) is None
        or not state.may_see(session.user, camera_id)
    ):
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
