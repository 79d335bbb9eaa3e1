"""Messages from another process into the event loop: one thread per :class:`Channel`.

A channel's receive blocks (for a short while), so it cannot run on the event loop. A pump
thread receives instead and hands each message to ``deliver`` in the loop's thread, in order:
the alert notices go to the :class:`~common.bus.EventBus` of the alert feeds, the tracked
boxes to :class:`~dashboard.services.overlay.LiveDetections`. ``deliver`` must not block: it runs on
the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from common.channel import Channel, ChannelClosedError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger(__name__)

M = TypeVar("M", bound="DataclassInstance")

POLL_S = 0.5
"""How long one receive waits: the most a pump takes to notice ``stop``."""


def start_pump(
    channel: Channel[M],
    deliver: Callable[[M], None],
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
    name: str,
) -> threading.Thread:
    """A thread, named ``name``, that moves ``channel``'s messages to ``deliver`` on ``loop``
    until ``stop`` is set; join it after setting ``stop``."""
    thread = threading.Thread(
        target=_pump, args=(channel, deliver, loop, stop), name=name, daemon=True
    )
    thread.start()
    return thread


def _pump(
    channel: Channel[M],
    deliver: Callable[[M], None],
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        try:
            message = channel.receive(timeout=POLL_S)
        except ChannelClosedError:
            log.info("pump of %s stops: the channel is closed", channel.name)
            return
        if message is None:
            continue
        try:
            loop.call_soon_threadsafe(deliver, message)
        except RuntimeError:  # the loop is closed: nobody is left to deliver to
            return
