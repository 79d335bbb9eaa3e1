"""An ingest worker process: one shard of cameras, reader threads per camera.

The worker publishes its cameras' analysis frames in the shard's shared-memory
:class:`FrameRing` (which the supervisor owns: a worker killed outright strands nothing, and
its successor goes on in the same ring), records their record streams, keeps their health
(states, gaps, offline alerts) and, in shard 0, runs retention for the recordings folder. It
runs until the supervisor sets ``stop``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from common import recordings
from common.channel import Channel
from common.config import RecordingConfig
from common.evidence import exports_folder
from common.frame_ring import FrameRing
from common.heartbeat import Heartbeat
from common.messages import AlertNotice, CameraStatus
from common.roles import ingest_role
from common.store import Store
from common.store_retry import WriteQueue
from common.thumbnail_files import thumbnails_folder
from ingest.camera_reader import CameraReader
from ingest.handoff import FrameHandoff
from ingest.health import CameraHealth
from ingest.recorder import FinishedSegment, SegmentRecorder
from ingest.retention import RetentionSweeper
from ingest.salvage import salvage_leftovers
from ingest.source import CameraSource
from ingest.thumbnail import ThumbnailWriter

log = logging.getLogger(__name__)
WRITES_CLOSE_TIMEOUT_S = 3.0
"""At stop, how long queued store writes may still wait for a busy store."""


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """Everything a worker process is started with (it crosses the process boundary)."""

    shard: int
    sources: tuple[CameraSource, ...]
    database: Path
    ring: str
    """The name of the shard's frame ring (:mod:`common.frame_ring`), made by the supervisor."""
    recording: RecordingConfig
    offline_alert_after_s: float
    tamper_debounce_s: float = 10.0
    retention_every_s: float = 30.0
    thumbnail_interval_s: float = 10.0
    """Seconds between camera-wall thumbnails (``ingest.thumbnail_interval_s``); 0: none."""


class _Shard:
    """The cameras of one worker, wired to their readers, recorders and health."""

    def __init__(
        self,
        plan: WorkerPlan,
        store: Store,
        handoff: FrameHandoff,
        notices: Channel[AlertNotice],
        writes: WriteQueue,
    ) -> None:
        self.stop = threading.Event()
        self.readers: list[CameraReader] = []
        self.health: list[CameraHealth] = []
        self._store = store
        self._writes = writes
        for source in plan.sources:
            health = CameraHealth(
                source.camera_id,
                store,
                notices,
                plan.offline_alert_after_s,
                startup_grace_s=source.open_timeout_s,
                writes=writes,
            )
            self.health.append(health)
            if source.record_url is not None:
                health.resume_recording_gap()
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
        thumbnail = None
        if plan.thumbnail_interval_s > 0:
            folder = thumbnails_folder(plan.database)
            thumbnail = ThumbnailWriter(source.camera_id, folder, plan.thumbnail_interval_s)
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
                on_decode_mode=health.decode_mode,
                tamper_debounce_s=plan.tamper_debounce_s,
                thumbnail=thumbnail,
            )
        )
        if source.record_url is not None and not shared:
            self.readers.append(
                CameraReader(source, source.record_url, _log_status, self.stop, recorder=recorder)
            )

    def _index(self, segment: FinishedSegment) -> None:
        """Index a finished segment through the write queue: the reader that finished it
        never waits on the store."""
        self._writes.submit(
            "segment",
            lambda: recordings.add_segment(
                self._store,
                segment.camera_id,
                start=segment.start,
                end=segment.end,
                path=str(segment.path.resolve()),
                size=segment.size,
            ),
        )


def _log_status(status: CameraStatus) -> None:
    log.info("record stream of %s: %s %s", status.camera_id, status.state.value, status.detail)


def _tick(shard: _Shard, heartbeat: Heartbeat, sweeper: RetentionSweeper | None, info: str) -> None:
    """Once a second: health (offline alerts), heartbeat, retention."""
    now = time.time()
    for health in shard.health:
        health.tick(now)
    heartbeat.maybe_beat(info)
    if sweeper is not None:
        sweeper.maybe_sweep(now)


def run_worker(plan: WorkerPlan, notices: Channel[AlertNotice], stop: threading.Event) -> None:
    """Process entry point: read the shard's cameras until ``stop`` is set.

    First the recordings a killed predecessor left are salvaged or removed (:mod:`ingest.salvage`).
    The readers' store writes go through a :class:`~common.store_retry.WriteQueue`; the main
    loop (health ticks, heartbeat, retention) outlives a store that refuses a write: it logs
    the error and tries again at the next tick.
    """
    store = Store(plan.database)
    recorded = [source.camera_id for source in plan.sources if source.record_url is not None]
    salvage_leftovers(store, plan.recording.path, recorded)
    ring = FrameRing.attach(plan.ring)
    writes = WriteQueue(f"store-writes-{plan.shard}")
    shard = _Shard(plan, store, FrameHandoff(ring), notices, writes)
    heartbeat = Heartbeat(store, ingest_role(plan.shard))
    sweeper = None
    if plan.shard == 0:
        exports = exports_folder(plan.database)
        sweeper = RetentionSweeper(
            store, plan.recording, notices, plan.retention_every_s, exports=exports
        )
    for reader in shard.readers:
        reader.start()
    log.info("ingest worker %d reads %d cameras", plan.shard, len(plan.sources))
    try:
        while not stop.wait(1.0):
            try:
                _tick(shard, heartbeat, sweeper, f"{len(plan.sources)} cameras")
            except sqlite3.OperationalError as error:
                log.error(
                    "ingest worker %d: store write failed, retried next tick: %s", plan.shard, error
                )
    finally:
        shard.stop.set()
        for reader in shard.readers:
            reader.thread.join(timeout=10)
        writes.close(WRITES_CLOSE_TIMEOUT_S)
        notices.close()
        ring.close()
        store.close()
