"""What every WebSocket of the dashboard shares: who opened it, when it went away, and
waiting for the next message without missing either.

A socket needs a live session from a page of this site (:func:`socket_session`); a task
listens for the page going away (:func:`until_closed`), so a closed tab ends its handler at
once rather than at the next send; :func:`next_item` waits for whichever comes first, a new
item or the page going away, and gives up after a quiet while so the handler can look at
its session again. A session that ended closes the socket with :data:`SESSION_ENDED`.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from fastapi import WebSocket

from common.accounts import Session
from dashboard.auth import connection_session, same_origin
from dashboard.state import DashboardState

SESSION_ENDED = 4401
T = TypeVar("T")


def socket_session(state: DashboardState, websocket: WebSocket) -> Session | None:
    """The socket's session; None also when a page of another site opened it."""
    return connection_session(state, websocket) if same_origin(websocket) else None


async def until_closed(websocket: WebSocket) -> None:
    """Returns when the page goes away (it sends nothing else that matters)."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        continue


async def next_item(
    items: asyncio.Queue[T], closed: asyncio.Future[None], timeout_s: float
) -> T | None:
    """The next item; None after ``timeout_s`` quiet seconds or when the page went away."""
    getter = asyncio.ensure_future(items.get())
    either: list[asyncio.Future[Any]] = [getter, closed]
    await asyncio.wait(either, timeout=timeout_s, return_when="FIRST_COMPLETED")
    if getter.cancel():
        return None
    return getter.result()  # it completed just before the cancel
