"""The in-process event bus: fan-out of notices to every subscriber (WebSocket clients).

Each subscriber has its own bounded queue; a slow subscriber loses its oldest notices
(counted in ``dropped``) instead of slowing the publisher or the other subscribers.
Notices only say "look at the store": a subscriber that lost some catches up from there.
They come from other processes over the ``alert_notices`` channel (:mod:`common.channel`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


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
