"""Re-analysis jobs run by the real runner: the real model on pieces of a real clip, real SQLite.

One runner (``run_reanalysis`` in a thread, as the supervisor's process would run it) serves
the jobs of most tests in turn, which also shows that it goes on after a failed or cancelled
job. The crash test runs two runner processes, the first killed with ``kill -9`` mid-job.

The media are pieces of the PETS 2009 crossroads (10 fps, people walking throughout), cut by
remuxing (no re-encode) into an "upload" and into "recorded segments" indexed at wall-clock
times, as the recorder indexes its own.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np
import pytest

from common import alert_rows, jobs, recordings
from common.config import SiteConfig
from common.jobs import Job, JobAlert, JobSource, JobState, NewJob
from common.paths import resolve_model
from common.roles import REANALYSIS_ROLE
from common.store import Store
from detect.job_media import wall_clock
from detect.quantize import INT8_MODEL
from detect.reanalysis import ReanalysisPlan, run_reanalysis
from matthan.child import child_main
from tests.paths import clips_dir, models_dir, require_clip

pytestmark = pytest.mark.timeout(180)

CLIP = clips_dir() / "pets09_s2l1_vtest.mp4"
FPS = 5.0
UPLOAD_AT = 1_800_000_000.0
"""Where an uploaded piece's first frame is put on the wall clock."""
RECORDED_AT = 1_800_100_000.0
"""Wall-clock start of the first recorded segment."""


def model() -> str:
    """The int8 model when it was made here (about 4x faster), else the fp32 one."""
    try:
        return str(resolve_model(INT8_MODEL))
    except FileNotFoundError:
        return str(models_dir() / "yolov8n.onnx")


SITE = SiteConfig.model_validate(
    {
        "site": {"name": "test", "timezone": "Asia/Ho_Chi_Minh"},
        "detector": {"model": model(), "input_size": 320},
        "ingest": {"analysis_fps": FPS, "analysis_size": 640},
        "reanalysis": {"batch": 4},
        "cameras": [
            {
                "id": "nga-tu",
                "name": "Ngã tư",
                "detect_url": "rtsp://127.0.0.1/pets",
                "zones": [{"name": "all", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
                "rules": [{"kind": "intrusion", "name": "nguoi", "zone": "all", "cooldown_s": 0}],
            }
        ],
    }
)


def cut(target: Path, start_s: float, end_s: float) -> Path:
    """Remux the clip's packets from the keyframe at ``start_s`` up to ``end_s`` into
    ``target``, times starting at 0 (as the recorder writes segments)."""
    with av.open(str(CLIP)) as source, av.open(str(target), "w", format="mp4") as output:
        stream = source.streams.video[0]
        assert stream.time_base is not None
        copy = output.add_stream_from_template(stream)
        first: int | None = None
        for packet in source.demux(stream):
            if packet.dts is None or packet.pts is None:
                continue
            t = float(packet.pts * stream.time_base)
            if t >= end_s:
                break
            if first is None and (t < start_s or not packet.is_keyframe):
                continue
            first = packet.dts if first is None else first
            packet.pts -= first
            packet.dts -= first
            packet.stream = copy
            output.mux(packet)
    return target


@dataclass(frozen=True)
class Media:
    upload: Path
    """15 s of the clip."""
    long: Path
    """40 s, for a job that is cancelled while it runs."""
    segments: tuple[Path, Path]
    """Two consecutive 10 s pieces."""
    garbage: Path
    """Random bytes with an .mp4 name."""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    require_clip(CLIP)
    folder = tmp_path_factory.mktemp("media")
    garbage = folder / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(7).integers(0, 256, 200_000, np.uint8).tobytes())
    return Media(
        upload=cut(folder / "upload.mp4", 0, 15),
        long=cut(folder / "long.mp4", 0, 40),
        segments=(cut(folder / "a.mp4", 20, 30), cut(folder / "b.mp4", 30, 40)),
        garbage=garbage,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The store shared by the module's runner and its tests."""
    opened = Store(tmp_path_factory.mktemp("store") / "matthan.db")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def runner(store: Store) -> Iterator[threading.Thread]:
    """``run_reanalysis`` on the module's store, in a thread (its ``nice`` is the thread's)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_reanalysis, args=(ReanalysisPlan(SITE, store.path), stop), name="runner"
    )
    thread.start()
    yield thread
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def upload(store: Store, path: Path, camera: str = "nga-tu") -> int:
    new = NewJob(camera, JobSource.UPLOAD, UPLOAD_AT, None, "tester", path.name, str(path))
    return jobs.add_job(store, new)


def wait_until(store: Store, job_id: int, done: bool = True, timeout_s: float = 90) -> Job:
    """The job once it finished (or, ``done`` False, once it analysed some frames)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = jobs.job(store, job_id)
        assert found is not None
        finished = found.state in jobs.FINISHED
        if finished if done else found.frames > 0:
            return found
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not there within {timeout_s} s: {jobs.job(store, job_id)}")


def findings(store: Store, job_id: int) -> list[JobAlert]:
    return jobs.job_alerts(store, job_id, limit=1000)


@pytest.fixture(scope="module")
def upload_run(store: Store, runner: threading.Thread, media: Media) -> tuple[Job, list[JobAlert]]:
    """The upload analysed once, uninterrupted: the reference for the crash test."""
    job_id = upload(store, media.upload)
    return wait_until(store, job_id), findings(store, job_id)


def test_an_upload_is_analysed_like_live_and_its_findings_kept(
    store: Store, upload_run: tuple[Job, list[JobAlert]]
) -> None:
    job, found = upload_run
    assert job.state == JobState.DONE, job.detail
    assert job.progress == 1.0
    assert job.end == pytest.approx(UPLOAD_AT + 15, abs=0.2)  # the runner learnt the length
    assert job.frames == pytest.approx(15 * FPS, rel=0.1)
    assert job.detail == f"{job.frames} frames, {len(found)} findings"
    assert job.detail_code == "done"
    people = [alert for alert in found if alert.class_name == "person"]
    assert people, found
    for alert in found:
        assert UPLOAD_AT <= alert.started_at <= UPLOAD_AT + 15
        assert alert.ended_at is not None  # open ones were ended when the media ended
        assert alert.started_at <= alert.ended_at <= UPLOAD_AT + 15
    picture = jobs.job_alert_picture(store, people[0].id) or b""
    snapshot = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
    assert snapshot is not None
    assert snapshot.shape == (480, 640, 3)  # the analysis size, as live alerts have
    assert alert_rows.alerts_after(store, 0) == []  # nothing reached the live alerts


def test_a_recorded_range_is_analysed_across_segments_and_gaps(
    store: Store, runner: threading.Thread, media: Media, tmp_path: Path
) -> None:
    first, second = media.segments
    for index, path in enumerate([first, second, tmp_path / "deleted.mp4"]):
        start = RECORDED_AT + 10 * index
        recordings.add_segment(
            store, "nga-tu", start=start, end=start + 10, path=str(path), size=1000
        )
    start, end = RECORDED_AT + 6, RECORDED_AT + 24  # 4 s + 10 s + 4 s of a missing file
    new = NewJob("nga-tu", JobSource.RECORDING, start, end, "tester")
    job = wait_until(store, jobs.add_job(store, new))
    assert job.state == JobState.DONE, job.detail
    assert job.progress == 1.0
    assert job.frames == pytest.approx(14 * FPS, rel=0.1)  # only frames in the range
    missing = wall_clock(RECORDED_AT + 20, ZoneInfo("Asia/Ho_Chi_Minh"))
    assert job.detail.endswith(f"; skipped the segment of {missing} (missing on disk)")
    assert job.detail_code == "skipped"
    found = findings(store, job.id)
    assert found
    for alert in found:
        assert start <= alert.started_at <= end - 4
        assert alert.ended_at is not None
        assert alert.ended_at <= end - 4

    empty = NewJob("nga-tu", JobSource.RECORDING, RECORDED_AT - 7200, RECORDED_AT - 3600, "me")
    failed = wait_until(store, jobs.add_job(store, empty))
    assert failed.state == JobState.FAILED
    assert "camera 'nga-tu' has no recordings between" in failed.detail
    assert "(Asia/Ho_Chi_Minh)" in failed.detail
    assert failed.detail_code == "no_recordings"


def test_a_running_job_is_cancelled_and_the_runner_goes_on(
    store: Store, runner: threading.Thread, media: Media
) -> None:
    long_job, next_job = upload(store, media.long), upload(store, media.segments[0])
    running = wait_until(store, long_job, done=False)
    assert running.state == JobState.RUNNING
    jobs.request_cancel(store, long_job)
    cancelled = wait_until(store, long_job)
    assert cancelled.state == JobState.CANCELLED
    assert 0 < cancelled.frames < 40 * FPS * 0.9
    assert cancelled.detail == f"cancelled after {cancelled.frames} frames"
    assert cancelled.detail_code == "cancelled"
    following = wait_until(store, next_job)
    assert following.state == JobState.DONE
    assert following.frames == pytest.approx(10 * FPS, rel=0.1)


def test_a_file_that_is_not_video_fails_with_what_went_wrong(
    store: Store, runner: threading.Thread, media: Media
) -> None:
    failed = wait_until(store, upload(store, media.garbage))
    assert failed.state == JobState.FAILED
    expected = (
        "cannot read the uploaded file 'garbage.mp4': it is not an MP4, MOV, MKV, AVI or TS file"
    )
    assert failed.detail == expected
    assert failed.detail_code == "unreadable"
    gone = wait_until(store, upload(store, media.upload, camera="da-bo"))
    assert gone.state == JobState.FAILED
    assert gone.detail == "camera 'da-bo' is no longer in the site configuration"
    assert gone.detail_code == "camera_gone"
    assert runner.is_alive()


def _start_runner(database: Path) -> mp.process.BaseProcess:
    """A runner process as the supervisor starts it (spawned; SIGTERM stops it)."""
    plan = ReanalysisPlan(SITE, database)
    process = mp.get_context("spawn").Process(
        target=child_main, args=(REANALYSIS_ROLE, run_reanalysis, (plan,))
    )
    process.start()
    return process


@pytest.fixture(scope="module")
def long_run(store: Store, runner: threading.Thread, media: Media) -> tuple[Job, list[JobAlert]]:
    """The 40 s file analysed once, uninterrupted: the reference for the crash test (a job
    long enough, a few seconds, to be caught running after its first progress report)."""
    job_id = upload(store, media.long)
    return wait_until(store, job_id), findings(store, job_id)


def test_a_job_of_a_killed_runner_runs_again_once(
    tmp_path: Path, media: Media, long_run: tuple[Job, list[JobAlert]]
) -> None:
    store = Store(tmp_path / "matthan.db")
    job_id = upload(store, media.long)
    first = _start_runner(store.path)
    try:
        assert wait_until(store, job_id, done=False, timeout_s=60).state == JobState.RUNNING
    finally:
        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        first.join(10)
    interrupted = jobs.job(store, job_id)
    assert interrupted is not None
    assert interrupted.state == JobState.RUNNING
    second = _start_runner(store.path)
    try:
        job = wait_until(store, job_id, timeout_s=60)
    finally:
        second.terminate()
        second.join(20)
    assert second.exitcode == 0
    assert job.state == JobState.DONE
    reference, expected = long_run
    assert job.frames == reference.frames
    found = findings(store, job_id)
    key = [(alert.track_id, alert.started_at, alert.ended_at) for alert in found]
    assert len(set(key)) == len(key)  # no finding twice
    assert key == [(alert.track_id, alert.started_at, alert.ended_at) for alert in expected]
    store.close()


def test_a_jobs_table_of_an_earlier_build_gets_the_detail_code(tmp_path: Path) -> None:
    """A store whose jobs table predates ``detail_code`` opens, gains it, and keeps its jobs."""
    database = tmp_path / "old.db"
    old_table = jobs.SCHEMA.split(";")[0].replace("    detail_code TEXT NOT NULL DEFAULT '',\n", "")
    assert "detail_code" not in old_table
    with sqlite3.connect(database) as db:
        db.execute(old_table)
        db.execute(
            "INSERT INTO analysis_jobs (camera_id, source, start, created_by, created_at)"
            " VALUES ('nga-tu', 'recording', 1.0, 'op', 2.0)"
        )
    store = Store(database)
    try:
        old = jobs.job(store, 1)
        assert old is not None
        assert old.detail_code == ""
        jobs.finish(store, 1, JobState.FAILED, "no recordings", "no_recordings")
        failed = jobs.job(store, 1)
        assert failed is not None
        assert failed.detail_code == "no_recordings"
        with pytest.raises(ValueError, match="unknown detail code"):
            jobs.finish(store, 1, JobState.FAILED, "?", "made-up")
    finally:
        store.close()
