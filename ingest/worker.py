"""An ingest worker process: one shard of cameras, one reader thread per camera.

The worker owns a shared-memory :class:`FrameRing` for its cameras' analysis frames and
writes camera state changes to the store. It runs until the supervisor sets ``stop``.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

from common.frame_ring import FrameRing
from common.messages import CameraStatus, FrameRef
from common.store import Store
from ingest.camera_reader import CameraReader
from ingest.handoff import FrameHandoff
from ingest.source import CameraSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """Everything a worker process is started with (it crosses the process boundary)."""

    shard: int
    sources: tuple[CameraSource, ...]
    database: Path
    ring_slots: int
    frame_size: int


def ring_name(shard: int) -> str:
    """Unique per worker incarnation, so a restarted worker never reuses a stale block."""
    return f"matthan-{os.getpid()}-{shard}"


def run_worker(plan: WorkerPlan, frames: Queue[FrameRef], stop: Event) -> None:
    """Process entry point: read the shard's cameras until ``stop`` is set."""
    store = Store(plan.database)
    ring = FrameRing.create(
        ring_name(plan.shard), plan.ring_slots, plan.frame_size, plan.frame_size
    )
    local_stop = threading.Event()
    handoff = FrameHandoff(ring, frames)

    def report(status: CameraStatus) -> None:
        store.add_camera_status(status)

    readers = [CameraReader(source, handoff, report, local_stop) for source in plan.sources]
    for reader in readers:
        reader.start()
    log.info("ingest worker %d reads %d cameras", plan.shard, len(readers))
    try:
        stop.wait()
    finally:
        local_stop.set()
        for reader in readers:
            reader.thread.join(timeout=10)
        frames.cancel_join_thread()
        ring.close()
        store.close()
