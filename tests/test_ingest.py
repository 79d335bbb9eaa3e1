"""Ingest against the real RTSP camera farm: health, credentials, garbage, recording.

The worker runs in a thread of the test process (the same code as in its own process),
so its store, queues and metrics can be inspected directly (:mod:`tests.ingest_run`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from prometheus_client import REGISTRY, generate_latest

from common import recordings
from common.config import RecordingConfig, SiteConfig
from common.store import Store
from ingest.retention import RetentionSweeper
from matthan.farm import CameraFarm, Mount
from tests.ingest_run import IngestRun, alerts, camera, site, states, wait_for
from tests.paths import clips_dir

pytestmark = pytest.mark.e2e
PASSWORD = "Kh0ng-Ai-Biet!"


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
