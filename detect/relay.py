"""Forward frame handles from ingest's queue to the detection core's own queue, per incarnation.

Why not let the core read ingest's queue directly? A ``multiprocessing.Queue`` reader holds the
queue's lock while it waits for data. A core killed (``kill -9``, the OOM killer) while waiting
leaves that lock held for ever, and no later core can read the queue again: analysis would be
silently dead while ingest and recording carried on. So the supervisor, which outlives every
role, runs this relay: it reads ingest's queue and forwards each handle to a queue made afresh
for each core it starts (:meth:`FrameRelay.new_target`). A dead core's queue is abandoned with it.

The relay never blocks ingest: when the current core's queue is full, or there is no core, the
handle is dropped and counted (``detector_busy``, ``detector_down``).
"""

from __future__ import annotations

import logging
import queue
import threading
from multiprocessing.context import SpawnContext
from multiprocessing.queues import Queue

from common.messages import FrameRef
from detect.metrics import FRAMES_DROPPED

log = logging.getLogger(__name__)

POLL_S = 0.2
TARGET_SIZE = 128
"""Handles in flight to the core. Small on purpose: the core's drain thread empties its queue as
fast as frames come, and the pickled handles (~250 bytes each) must fit in the pipe's 64 KiB so
that abandoning the queue of a dead core never leaves its feeder thread blocked."""


class FrameRelay:
    """A thread of the supervisor process; :meth:`start`, then :meth:`new_target` per core."""

    def __init__(self, source: Queue[FrameRef], context: SpawnContext) -> None:
        self._source = source
        self._context = context
        self._target: Queue[FrameRef] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frame-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def new_target(self) -> Queue[FrameRef]:
        """A fresh queue for a core about to start; the previous core's queue is abandoned."""
        target: Queue[FrameRef] = self._context.Queue(maxsize=TARGET_SIZE)
        self._swap(target)
        return target

    def detach(self) -> None:
        """The core died: abandon its queue and drop handles until the next one starts."""
        self._swap(None)

    def _swap(self, target: Queue[FrameRef] | None) -> None:
        with self._lock:
            old, self._target = self._target, target
            if old is not None:
                old.close()
                old.cancel_join_thread()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ref = self._source.get(timeout=POLL_S)
            except queue.Empty:
                continue
            self._forward(ref)

    def _forward(self, ref: FrameRef) -> None:
        with self._lock:
            if self._target is None:
                reason = "detector_down"
            else:
                try:
                    self._target.put_nowait(ref)
                except queue.Full:
                    reason = "detector_busy"
                else:
                    return
        FRAMES_DROPPED.labels(ref.camera_id, reason).inc()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop forwarding and let go of the current core's queue."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        with self._lock:
            if self._target is not None:
                self._target.cancel_join_thread()
