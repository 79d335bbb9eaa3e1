"""Ingest against the real RTSP camera farm: health, credentials, garbage, recording.

The worker runs in a thread of the test process (the same code as in its own process),
so its store, queues and metrics can be inspected directly.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from prometheus_client import REGISTRY, generate_latest

from benchmarks.farm import CameraFarm, Mount
from common import recordings
from common.config import RecordingConfig, SiteConfig
from common.messages import AlertNotice, FrameRef
from common.store import Store
from ingest.retention import RetentionSweeper
from ingest.source import sources_for
from ingest.worker import WorkerPlan, run_worker
from tests.paths import clips_dir

pytestmark = pytest.mark.e2e
PASSWORD = "Kh0ng-Ai-Biet!"


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

    def __init__(self, config: SiteConfig, folder: Path, recording: RecordingConfig) -> None:
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


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Callable[..., IngestRun]]:
    runs: list[IngestRun] = []

    def start(config: SiteConfig, **recording: object) -> IngestRun:
        record = RecordingConfig(path=tmp_path / "rec", **recording)  # type: ignore[arg-type]
        run = IngestRun(config, tmp_path, record)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.close()


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


@pytest.mark.timeout(120)
def test_dead_camera_alerts_and_recovers_without_disturbing_others(
    ingest: Callable[..., IngestRun],
) -> None:
    clips = clips_dir()
    mounts = [
        Mount("gate", clips / "pets09_s2l1_vtest.mp4"),
        Mount("yard", clips / "intel_parking_lot_cars.mp4"),
    ]
    with CameraFarm(mounts) as farm:
        config = site(
            [camera("gate", farm.url("gate")), camera("yard", farm.url("yard"))],
            analysis_fps=5,
            offline_alert_after_s=2,
        )
        run = ingest(config, enabled=False)
        wait_for(lambda: run.fps("gate", 2) > 3 and run.fps("yard", 2) > 3, 20, "both cameras")
        time.sleep(3)
        before = run.fps("yard", 3)

        farm.stop_mount("gate")
        stopped = time.monotonic()
        wait_for(lambda: alerts(run.store, "gate", "camera_offline"), 15, "offline alert")
        assert time.monotonic() - stopped < 2 + 2 + 8  # read timeout + debounce + reconnects
        during = run.fps("yard", 3)
        assert abs(during - before) <= 0.2 * before, (before, during)
        assert ("online", "768x576") in states(run.store, "gate")
        assert states(run.store, "gate")[-1][0] in {"offline", "failed", "connecting"}

        farm.start_mount("gate")
        wait_for(lambda: run.fps("gate", 1.5) > 2, 45, "gate frames again")
        wait_for(lambda: alerts(run.store, "gate", "camera_offline")[0][1], 5, "alert ended")
        gaps = recordings.coverage_gaps(run.store, "gate")
        assert len(gaps) == 1
        assert gaps[0].end is not None
        assert gaps[0].end - gaps[0].start > 2
        assert not alerts(run.store, "yard", "camera_offline")


@pytest.mark.timeout(90)
def test_wrong_password_fails_clearly_and_never_leaks(
    ingest: Callable[..., IngestRun],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    clip = clips_dir() / "la_cam68_1st_alameda_sidewalk.mp4"
    with CameraFarm([Mount("locked", clip)], username="admin", password=PASSWORD) as farm:
        monkeypatch.setenv("CAM_USER", "admin")
        monkeypatch.setenv("CAM_PASS", PASSWORD + "x")
        monkeypatch.setenv("GOOD_PASS", PASSWORD)
        login = {"username_env": "CAM_USER", "password_env": "CAM_PASS"}
        good = {"username_env": "CAM_USER", "password_env": "GOOD_PASS"}
        config = site(
            [
                camera("wrong", farm.url("locked"), credentials=login),
                camera("right", farm.url("locked"), credentials=good),
            ]
        )
        run = ingest(config, enabled=False)
        wait_for(lambda: "failed" in dict(states(run.store, "wrong")), 20, "failed state")
        assert "login refused" in dict(states(run.store, "wrong"))["failed"]
        wait_for(lambda: run.fps("right", 2) > 3, 20, "the right login streams")
    text = generate_latest(REGISTRY).decode()
    everything = [caplog.text, text, repr(run.store.read("SELECT * FROM camera_events"))]
    assert all(PASSWORD not in part for part in everything)


@pytest.mark.timeout(90)
def test_garbage_stream_fails_and_others_carry_on(ingest: Callable[..., IngestRun]) -> None:
    clips = clips_dir()
    mounts = [
        Mount("broken", clips / "pets09_s2l1_vtest.mp4", mode="garbage"),
        Mount("fine", clips / "intel_parking_lot_cars.mp4"),
    ]
    with CameraFarm(mounts) as farm:
        config = site(
            [camera("broken", farm.url("broken")), camera("fine", farm.url("fine"))],
            offline_alert_after_s=3,
        )
        run = ingest(config, enabled=False)
        wait_for(lambda: run.fps("fine", 2) > 3, 20, "the good camera")
        wait_for(lambda: alerts(run.store, "broken", "camera_offline"), 20, "broken camera alert")
        assert not run.arrivals["broken"]
        assert run.fps("fine", 3) > 3


def probe(path: str) -> tuple[int, float]:
    """Decode every frame of a file; (frames, duration in seconds)."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert stream.time_base is not None
        duration = float((stream.duration or 0) * stream.time_base)
    return frames, duration


@pytest.mark.timeout(120)
def test_recording_segments_are_clean_contiguous_and_retained(
    ingest: Callable[..., IngestRun],
) -> None:
    clip = clips_dir() / "pets09_s2l1_vtest.mp4"
    with CameraFarm([Mount("cam", clip)]) as farm:
        run = ingest(site([camera("cam", farm.url("cam"))]), segment_s=3)
        wait_for(lambda: len(recordings.segments(run.store, "cam")) >= 4, 40, "four segments")
        run.close()
    found = recordings.segments(Store(run.database), "cam")
    for segment in found:
        assert Path(segment.path).stat().st_size == segment.bytes
        assert not Path(segment.path + ".partial").exists()
        _, duration = probe(segment.path)
        assert abs(duration - (segment.end - segment.start)) < 0.5
    for segment in found[:-1]:  # the last one was cut short by the stop
        assert 2.5 <= segment.end - segment.start <= 3 + 2.5 + 0.3  # cut on the next keyframe
        assert probe(segment.path)[0] >= 25  # 10 fps clip, keyframes every 2.5 s
    for earlier, later in itertools.pairwise(found):
        assert later.start - earlier.end < 0.5

    store = Store(run.database)
    held = found[0]
    recordings.add_legal_hold(
        store, "cam", start=held.start, end=held.end, reason="case 42", by="test", at=time.time()
    )
    total = sum(segment.bytes for segment in found)
    budget = RecordingConfig(
        path=run.database.parent / "rec",
        max_disk_gb=(total - found[1].bytes / 2) / 1e9,
        min_free_gb=0,
    )
    RetentionSweeper(store, budget).sweep(time.time())
    left = [segment.id for segment in recordings.segments(store, "cam")]
    assert held.id in left
    assert found[1].id not in left
    assert not Path(found[1].path).exists()
    assert left == [segment.id for segment in found if segment.id != found[1].id]
