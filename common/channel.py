"""One way for messages to cross from process to process: a bounded :class:`Channel`.

The supervisor makes each channel (:meth:`Channel.create`) and passes it to the processes at
its ends when it starts them; it carries a ``multiprocessing`` queue inside. Two cross today:

- ``alert_notices``: "alert N is stored", from ingest (camera health, retention), the detection
  core and the supervisor's analysis watch to the dashboard, which tells the alert feeds.
- ``overlay_boxes``: one analysed frame's tracked boxes (:class:`common.messages.FrameDetections`),
  from the detection core to the dashboard, for the cameras watched live
  (:mod:`common.watching`).

Sending never blocks: a producer (ingest, analysis) must not wait on the dashboard. When the
channel is full, its drop policy says which message is lost, and every loss is counted in
``matthan_channel_dropped_total{channel}``. There is one policy, :attr:`DropPolicy.NEWEST`: the
message being sent is dropped. It suits both channels: a notice only says "look at the store",
and the dashboard reads new alerts from the store every few seconds anyway; an overlay frame is
replaced by the next one a fraction of a second later. Dropping the *oldest* instead would make
the producer take messages off the queue: it would compete with the consumer for the queue's
read lock, and a producer killed while holding it would stop the consumer for good (see below).
So it is not offered.

The kill -9 caveat. A ``multiprocessing`` queue outlives the processes at its ends and guards
its pipe with two locks shared between processes; a process killed (``kill -9``, the OOM
killer) while it holds one leaves it held for good. The queue's own blocking ``get`` holds the
read lock for as long as it waits, so a consumer killed while waiting, which is nearly always,
would leave its successor receiving nothing until the service restarts. :meth:`Channel.receive`
therefore never waits inside the queue: it polls, and takes the read lock only to take a
message that is already there. A consumer killed in those microseconds still mutes the
channel, and so does a producer that ends while its feeder thread writes into the pipe (that
holds the write lock): killed, or stopping while the pipe stays full because the consumer reads
nothing. Sending goes on without blocking, and everything is dropped and counted. So nothing
that analysis cannot do without travels this way (frames wait in shared-memory rings that no
lock guards), and alerts themselves live in the store: only their notices travel here.

A process that has sent calls :meth:`Channel.close` before it ends: its last messages get a
moment to reach the pipe, and it does not then wait at exit for a consumer that may be gone.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from enum import StrEnum
from multiprocessing.context import SpawnContext
from multiprocessing.queues import Queue
from typing import TYPE_CHECKING, Generic, TypeVar

from prometheus_client import Counter

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger(__name__)

RECEIVE_POLL_S = 0.01
"""How often a waiting :meth:`Channel.receive` looks for a message: the most it adds to a
message's way (see the kill -9 caveat for why it polls)."""

CLOSE_FLUSH_S = 1.0
"""How long :meth:`Channel.close` waits for the messages sent to reach the pipe."""

M = TypeVar("M", bound="DataclassInstance")
"""A message: one frozen, slotted dataclass (:mod:`common.messages`)."""

CHANNEL_DROPPED = Counter(
    "matthan_channel_dropped",
    "Messages a process could not send to another because the channel between them was full"
    " (drop newest: the message being sent is lost), by channel: alert_notices, overlay_boxes",
    ["channel"],
)


class DropPolicy(StrEnum):
    """Which message a full channel loses."""

    NEWEST = "newest"
    """The message being sent: what is already waiting is delivered, in order."""


class ChannelClosedError(EOFError):
    """This process closed the channel: nothing more comes out of it here."""


class Channel(Generic[M]):
    """A bounded channel of messages of one type, named for its metric label.

    Send from any process and thread; receive from one consumer process. It is picklable only
    as an argument of a process being started, like the queue inside it.
    """

    __slots__ = ("_dropping", "_name", "_policy", "_queue")

    def __init__(self, name: str, carrier: Queue[M], policy: DropPolicy) -> None:
        if not name:
            raise ValueError("a channel needs a name (its metric label)")
        self._name = name
        self._queue = carrier
        self._policy = policy
        self._dropping = False

    @classmethod
    def create(
        cls, context: SpawnContext, name: str, maxsize: int, *, policy: DropPolicy
    ) -> Channel[M]:
        """A channel holding at most ``maxsize`` messages sent and not yet received."""
        if maxsize < 1:
            raise ValueError(f"channel {name!r}: maxsize must be at least 1, not {maxsize}")
        return cls(name, context.Queue(maxsize=maxsize), policy)

    @property
    def name(self) -> str:
        return self._name

    @property
    def policy(self) -> DropPolicy:
        return self._policy

    def send(self, message: M) -> bool:
        """Send ``message`` without waiting; False if it was dropped (full, or closed here)."""
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._drop("full")
            return False
        except ValueError:  # closed here: a thread still sending while its process stops
            self._drop("closed")
            return False
        self._dropping = False
        return True

    def _drop(self, why: str) -> None:
        CHANNEL_DROPPED.labels(self._name).inc()
        if not self._dropping:  # logged once per run of drops, counted each time
            log.warning("channel %s %s: dropping the %s messages", self._name, why, self._policy)
            self._dropping = True

    def receive(self, timeout: float) -> M | None:
        """The next message, or None if none came within ``timeout`` seconds.

        Raises :class:`ChannelClosedError` once this process closed the channel.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._queue.get_nowait()  # the read lock for microseconds, not a wait
            except queue.Empty:
                pass
            except (ValueError, OSError, EOFError) as error:
                raise ChannelClosedError(f"channel {self._name} is closed") from error
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(RECEIVE_POLL_S, left))

    def close(self, flush_s: float = CLOSE_FLUSH_S) -> None:
        """This process sends no more. What it sent reaches the pipe within ``flush_s`` or is
        lost (the pipe stays full while the consumer reads nothing): the process never waits
        at exit for a consumer that may be gone."""
        self._queue.close()  # the queue's feeder thread writes what is left, then ends
        flusher = threading.Thread(
            target=self._queue.join_thread, name=f"{self._name}-flush", daemon=True
        )
        flusher.start()
        flusher.join(flush_s)
        self._queue.cancel_join_thread()

    def __repr__(self) -> str:
        return f"Channel({self._name!r}, policy={self._policy.value})"
