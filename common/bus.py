"""The in-process event bus: fan-out of notices to every subscriber (WebSocket clients).

Each subscriber has its own bounded queue; a slow subscriber loses its oldest notices
(counted in ``dropped``) instead of slowing the publisher or the other subscribers.
Notices only say "look at the store": a subscriber that lost some catches up from there.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Generic, Protocol, TypeVar

from common.messages import AlertNotice

T = TypeVar("T")
log = logging.getLogger(__name__)


class NoticeQueue(Protocol):
    """The cross-process queue that carries alert notices to the dashboard."""

    def put_nowait(self, item: AlertNotice, /) -> None: ...


def publish_notice(notices: NoticeQueue | None, notice: AlertNotice) -> None:
    """Announce a stored alert; when the queue is full the notice is dropped (logged), since
    the dashboard also reads new alerts from the store every few seconds."""
    if notices is None:
        return
    try:
        notices.put_nowait(notice)
    except queue.Full:
        log.warning("alert bus full; alert %d is read from the store", notice.alert_id)


class EventBus(Generic[T]):
    """Publish from the event loop's thread; subscribe with ``async with bus.subscribe()``."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[T]] = set()
        self.dropped = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, item: T) -> None:
        for subscriber in self._subscribers:
            if subscriber.full():
                subscriber.get_nowait()
                self.dropped += 1
            subscriber.put_nowait(item)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[T]]:
        subscriber: asyncio.Queue[T] = asyncio.Queue(self._queue_size)
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)
