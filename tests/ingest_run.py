"""An ingest worker run in a thread of the test process, against the real camera farm.

The worker is the same code as in its own process, so its store, queues and metrics can be
inspected directly. Shared by the ingest tests and the fault tests.
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import REGISTRY

from common.config import RecordingConfig, SiteConfig
from common.messages import AlertNotice, FrameRef
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
        self.frames: mp.Queue[FrameRef] = context.Queue(maxsize=64)
        self.notices: mp.Queue[AlertNotice] = context.Queue(maxsize=100)
        self.stop = threading.Event()
        plan = WorkerPlan(
            shard=0,
            sources=tuple(sources_for(config)),
            database=self.database,
            ring_slots=64,
            frame_size=640,
            recording=recording,
            offline_alert_after_s=config.ingest.offline_alert_after_s,
            retention_every_s=retention_every_s,
            thumbnail_interval_s=config.ingest.thumbnail_interval_s,
        )
        self.arrivals: dict[str, list[float]] = collections.defaultdict(list)
        self.started = time.monotonic()
        self._worker = threading.Thread(
            target=run_worker, args=(plan, self.frames, self.notices, self.stop)
        )
        self._drain = threading.Thread(target=self._count, daemon=True)
        self._worker.start()
        self._drain.start()

    def _count(self) -> None:
        while not self.stop.is_set():
            try:
                ref = self.frames.get(timeout=0.2)
            except queue.Empty:
                continue
            self.arrivals[ref.camera_id].append(time.monotonic())

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
