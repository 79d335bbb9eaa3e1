"""An ingest worker run in a thread of the test process, against the real camera farm.

The worker is the same code as in its own process, so its store, queues and metrics can be
inspected directly. Shared by the ingest tests and the fault tests.
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from prometheus_client import REGISTRY

from common.channel import Channel, DropPolicy
from common.config import RecordingConfig, SiteConfig
from common.frame_ring import FrameRing, RingPlan
from common.messages import AlertNotice
from common.store import Store
from ingest.source import sources_for
from ingest.worker import WorkerPlan, run_worker


def site(cameras: list[dict[str, object]], **ingest: object) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"name": "test"},
            "ingest": {"open_timeout_s": 3, "read_timeout_s": 2, **ingest},
            "cameras": cameras,
        }
    )


def camera(camera_id: str, url: str, **extra: object) -> dict[str, object]:
    """A camera whose every sampled frame is handed off (motion gate off: these tests
    count frames to see that a camera streams)."""
    return {
        "id": camera_id,
        "name": camera_id,
        "detect_url": url,
        "motion": {"enabled": False},
        **extra,
    }


class IngestRun:
    """One ingest worker in a thread, with its frames counted per camera."""

    def __init__(
        self,
        config: SiteConfig,
        folder: Path,
        recording: RecordingConfig,
        retention_every_s: float = 30.0,
    ) -> None:
        self.database = folder / "ingest.db"
        self.store = Store(self.database)
        context = mp.get_context("spawn")
        self.notices: Channel[AlertNotice] = Channel.create(
            context, "alert_notices", 100, policy=DropPolicy.NEWEST
        )
        self.stop = threading.Event()
        sources = tuple(sources_for(config))
        cameras = tuple(source.camera_id for source in sources)
        self.ring = FrameRing.create(RingPlan(f"test-{uuid.uuid4().hex[:8]}", cameras, 640, 640))
        plan = WorkerPlan(
            shard=0,
            sources=sources,
            database=self.database,
            ring=self.ring.name,
            recording=recording,
            offline_alert_after_s=config.ingest.offline_alert_after_s,
            retention_every_s=retention_every_s,
            thumbnail_interval_s=config.ingest.thumbnail_interval_s,
        )
        self.arrivals: dict[str, list[float]] = collections.defaultdict(list)
        self.started = time.monotonic()
        self._worker = threading.Thread(target=run_worker, args=(plan, self.notices, self.stop))
        self._drain = threading.Thread(target=self._count, daemon=True)
        self._worker.start()
        self._drain.start()

    def _count(self) -> None:
        """Watch the ring as the detection core would: each new sequence number is a frame."""
        seen = self.ring.latest()
        while not self.stop.wait(0.01):
            latest = self.ring.latest()
            now = time.monotonic()
            for index in (latest > seen).nonzero()[0].tolist():
                camera = self.ring.cameras[index]
                self.arrivals[camera].extend([now] * int(latest[index] - seen[index]))
            seen = latest

    def fps(self, camera_id: str, window_s: float) -> float:
        now = time.monotonic()
        return sum(1 for t in self.arrivals[camera_id] if now - t <= window_s) / window_s

    def gated(self, camera_id: str, reason: str) -> float:
        """How many sampled frames the motion gate judged ``reason`` (from the metrics)."""
        value = REGISTRY.get_sample_value(
            "matthan_ingest_motion_frames_total", {"camera": camera_id, "reason": reason}
        )
        return value or 0.0

    def close(self) -> None:
        self.stop.set()
        self._worker.join(30)
        self._drain.join(5)
        self.ring.close()
        self.store.close()


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def states(store: Store, camera_id: str) -> list[tuple[str, str]]:
    rows = store.read(
        "SELECT state, detail FROM camera_events WHERE camera_id = ? ORDER BY id", (camera_id,)
    )
    return [(row[0], row[1]) for row in rows]


def alerts(store: Store, camera_id: str, kind: str) -> list[tuple[int, float | None]]:
    rows = store.read(
        "SELECT id, ended_at FROM alerts WHERE camera_id = ? AND kind = ?", (camera_id, kind)
    )
    return [(row[0], row[1]) for row in rows]
