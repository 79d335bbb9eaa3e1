"""An ingest worker process: one shard of cameras, reader threads per camera.

The worker owns a shared-memory :class:`FrameRing` for its cameras' analysis frames,
records their record streams, keeps their health (states, gaps, offline alerts) and, in
shard 0, runs retention for the recordings folder. It runs until the supervisor sets
``stop``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

from common import recordings
from common.config import RecordingConfig
from common.frame_ring import FrameRing
from common.heartbeat import Heartbeat
from common.messages import AlertNotice, CameraStatus, FrameRef
from common.store import Store
from ingest.camera_reader import CameraReader
from ingest.handoff import FrameHandoff
from ingest.health import CameraHealth
from ingest.recorder import FinishedSegment, SegmentRecorder
from ingest.retention import RetentionSweeper
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
    recording: RecordingConfig
    offline_alert_after_s: float
    tamper_debounce_s: float = 10.0


def ring_name(shard: int) -> str:
    """Unique per worker incarnation, so a restarted worker never reuses a stale block."""
    return f"matthan-{os.getpid()}-{shard}"


class _Shard:
    """The cameras of one worker, wired to their readers, recorders and health."""

    def __init__(
        self, plan: WorkerPlan, store: Store, handoff: FrameHandoff, notices: Queue[AlertNotice]
    ) -> None:
        self.stop = threading.Event()
        self.readers: list[CameraReader] = []
        self.health: list[CameraHealth] = []
        self._store = store
        for source in plan.sources:
            health = CameraHealth(
                source.camera_id,
                store,
                notices,
                plan.offline_alert_after_s,
                startup_grace_s=source.open_timeout_s,
            )
            self.health.append(health)
            self._add_readers(plan, source, health, handoff)

    def _add_readers(
        self, plan: WorkerPlan, source: CameraSource, health: CameraHealth, handoff: FrameHandoff
    ) -> None:
        recorder = None
        if source.record_url is not None:
            recorder = SegmentRecorder(
                source.camera_id, plan.recording.path, plan.recording.segment_s, self._index
            )
        shared = source.record_url == source.url
        self.readers.append(
            CameraReader(
                source,
                source.url,
                health.report,
                self.stop,
                handoff=handoff,
                recorder=recorder if shared else None,
                on_frame=health.note_frame,
                on_tamper=health.tamper,
                tamper_debounce_s=plan.tamper_debounce_s,
            )
        )
        if source.record_url is not None and not shared:
            self.readers.append(
                CameraReader(source, source.record_url, _log_status, self.stop, recorder=recorder)
            )

    def _index(self, segment: FinishedSegment) -> None:
        recordings.add_segment(
            self._store,
            segment.camera_id,
            start=segment.start,
            end=segment.end,
            path=str(segment.path.resolve()),
            size=segment.size,
        )


def _log_status(status: CameraStatus) -> None:
    log.info("record stream of %s: %s %s", status.camera_id, status.state.value, status.detail)


def run_worker(
    plan: WorkerPlan, frames: Queue[FrameRef], notices: Queue[AlertNotice], stop: Event
) -> None:
    """Process entry point: read the shard's cameras until ``stop`` is set."""
    store = Store(plan.database)
    ring = FrameRing.create(
        ring_name(plan.shard), plan.ring_slots, plan.frame_size, plan.frame_size
    )
    shard = _Shard(plan, store, FrameHandoff(ring, frames), notices)
    heartbeat = Heartbeat(store, f"ingest-{plan.shard}")
    sweeper = RetentionSweeper(store, plan.recording, notices) if plan.shard == 0 else None
    for reader in shard.readers:
        reader.start()
    log.info("ingest worker %d reads %d cameras", plan.shard, len(plan.sources))
    try:
        while not stop.wait(1.0):
            now = time.time()
            for health in shard.health:
                health.tick(now)
            heartbeat.maybe_beat(f"{len(plan.sources)} cameras")
            if sweeper is not None:
                sweeper.maybe_sweep(now)
    finally:
        shard.stop.set()
        for reader in shard.readers:
            reader.thread.join(timeout=10)
        frames.cancel_join_thread()
        notices.cancel_join_thread()
        ring.close()
        store.close()
