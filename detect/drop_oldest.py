"""A bounded queue between the detection core and one of its helper threads.

The core puts and never waits: when the queue is full, the item that has waited longest is
dropped (:attr:`DropPolicy.OLDEST`) and handed to ``on_drop``, which counts it in the
queue's own metric. The helper thread takes items in order with :meth:`DropOldestQueue.get`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class DropPolicy(StrEnum):
    """Which item a full queue loses."""

    OLDEST = "oldest"


class DropOldestQueue(Generic[T]):
    """At most ``size`` items waiting; :meth:`put` never blocks."""

    policy = DropPolicy.OLDEST

    def __init__(
        self,
        size: int,
        on_drop: Callable[[T], None],
        on_depth: Callable[[int], None] = lambda _: None,
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self._items: deque[T] = deque()
        self._size = size
        self._on_drop = on_drop
        self._on_depth = on_depth
        self._ready = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._ready:
            if self._closed:
                return
            if len(self._items) >= self._size:
                self.dropped += 1
                self._on_drop(self._items.popleft())
            self._items.append(item)
            self._on_depth(len(self._items))
            self._ready.notify()

    def get(self, timeout: float) -> T | None:
        """The oldest item, waiting up to ``timeout`` for one; None when none came or the
        queue is closed."""
        with self._ready:
            if not self._items and not self._closed:
                self._ready.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._on_depth(len(self._items))
            return item

    def close(self) -> None:
        """Stop taking items; those waiting are dropped (not counted: nothing reads them)."""
        with self._ready:
            self._closed = True
            self._items.clear()
            self._on_depth(0)
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)
