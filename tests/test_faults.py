"""Faults against the real service on the real camera farm: a store held locked, ``kill -9`` of
the whole service, and a recordings volume that fills up.

The first two run ``matthan run`` on the PETS crossroads with a person rule that fires every
second or so, followed on ``/ws/alerts`` by a logged-in client, as the dashboard follows it.
What must hold: an alert the dashboard showed is in the store, whatever happened after; an
alert raised while another connection holds the write lock waits for it (the busy timeout) and
is stored and shown afterwards; after ``kill -9`` and a restart, recording resumes and the
blind interval is a "service down" coverage gap. The volume test runs one ingest worker in a
thread on a small tmpfs (the test mounts it: root only).

The churn of many cameras is a long run: ``benchmarks/churn_bench.py`` (see RELIABILITY.md).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from prometheus_client import REGISTRY

from benchmarks.service_probe import AlertListener, by_label, delta, process_tree, scrape
from common import recordings
from common.channel import Channel, DropPolicy
from common.config import MotionConfig, RecordingConfig
from common.frame_ring import FrameRing, RingPlan
from common.messages import AlertNotice, CameraState, CameraStatus
from ingest.backoff import Backoff
from ingest.camera_reader import CameraReader
from ingest.health import OFFLINE_KIND, SERVICE_DOWN
from ingest.recorder import segment_start
from ingest.retention import DISK_LOW_KIND
from ingest.source import CameraSource, sources_for
from ingest.worker import WorkerPlan, run_worker
from matthan.farm import CameraFarm, Mount
from matthan.rings import SHM_FOLDER
from tests.conftest import ARTIFACTS, Service, free_port, wait_http
from tests.ingest_run import IngestRun, alerts, camera, site, wait_for
from tests.paths import clips_dir

pytestmark = pytest.mark.e2e

SITE = """\
site: {{name: "Fault test"}}
storage: {{database: data/test.db}}
dashboard: {{port: {port}}}
detector: {{max_batch: 4, max_wait_ms: 20, input_size: 320}}
ingest: {{workers: 1, analysis_fps: 5, offline_alert_after_s: 2}}
recording: {{path: data/rec, segment_s: 2}}
cameras:
  - id: {camera}
    name: "Ngã tư"
    detect_url: {url}
    zones:
      - name: quang-truong
        points: [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]
    rules:
      - {{kind: intrusion, name: nguoi, zone: quang-truong, cooldown_s: 1}}
"""
CAMERA = "nga-tu"
ADMIN, PASSWORD = "trucban", "mật-khẩu-trực-ban-2026"
LOCK_HOLD_S = 6.0
"""Longer than the offline debounce, shorter than the store's 10 s busy timeout."""


class Station:
    """``matthan run`` on one farm camera, restartable on the same config and store."""

    def __init__(self, folder: Path, farm: CameraFarm) -> None:
        self.folder = folder
        self.port = free_port()
        self.config = folder / "site.yaml"
        text = SITE.format(port=self.port, url=farm.url("pets"), camera=CAMERA)
        self.config.write_text(text, encoding="utf-8")
        self.database = folder / "data" / "test.db"
        self.logs: list[Path] = []
        self.service = self.start()
        self.service.add_user(ADMIN, PASSWORD)

    def start(self) -> Service:
        """A new ``matthan run`` on the same site (each with its own log)."""
        log = self.folder / f"matthan-{len(self.logs)}.log"
        self.logs.append(log)
        self.service = Service(self.config, self.port, log)
        wait_http(f"{self.service.base_url}/healthz", 60, self.service.process)
        return self.service

    def listener(self) -> AlertListener:
        """A logged-in client following /ws/alerts from the newest alert on."""
        listener = AlertListener(self.service.base_url, ADMIN, PASSWORD)
        listener.start()
        return listener

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.database, timeout=15)) as db:
            return db.execute(sql, params).fetchall()

    def log_text(self) -> str:
        return "".join(log.read_text(encoding="utf-8", errors="replace") for log in self.logs)


@pytest.fixture(scope="module")
def farm() -> Iterator[CameraFarm]:
    with CameraFarm([Mount("pets", clips_dir() / "pets09_s2l1_vtest.mp4")]) as running:
        yield running


@pytest.fixture(scope="module")
def station(farm: CameraFarm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    running = Station(tmp_path_factory.mktemp("faults"), farm)
    yield running
    running.service.stop()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "faults-last.log").write_text(running.log_text(), encoding="utf-8")


def assert_all_on_the_feed(station: Station, listener: AlertListener, after: int) -> None:
    """Every alert stored with an id above ``after`` reaches the listener."""

    def missing() -> set[int]:
        stored = {row[0] for row in station.query("SELECT id FROM alerts WHERE id > ?", (after,))}
        return stored - set(listener.alerts)

    wait_for(lambda: not missing(), 15, "every stored alert on the feed")


@pytest.mark.timeout(150)
def test_alerts_raised_while_the_store_is_locked_wait_and_are_kept(
    station: Station, farm: CameraFarm
) -> None:
    """Another connection holds the write lock; meanwhile the camera drops, so ingest must
    write its state change and, after the debounce, its offline alert. Both wait for the
    lock (the store's busy timeout), and the alert reaches the feed once it is stored."""
    listener = station.listener()
    try:
        wait_for(lambda: listener.alerts, 90, "a first person alert on the feed")
        first = min(listener.alerts)
        with contextlib.closing(sqlite3.connect(station.database, isolation_level=None)) as db:
            db.execute("BEGIN EXCLUSIVE")
            locked_at = time.time()
            farm.stop_mount("pets")
            time.sleep(LOCK_HOLD_S)
            db.execute("COMMIT")
        released_at = time.time()
        farm.start_mount("pets")
        offline = f"SELECT id, started_at, created_at FROM alerts WHERE kind = '{OFFLINE_KIND}'"
        wait_for(lambda: station.query(offline), 20, "the offline alert")
        ((_, started_at, created_at),) = station.query(offline)
        assert locked_at <= started_at <= released_at  # the camera dropped during the lock
        assert created_at >= released_at - 0.2  # and the alert was written after it
        assert_all_on_the_feed(station, listener, first)
    finally:
        listener.stop()
    log = station.log_text()
    assert station.service.process.poll() is None, log[-3000:]
    assert " exited with " not in log, log[-3000:]
    assert "database is locked" not in log, log[-3000:]


LONG_LOCK_S = 25.0
"""Two and a half busy timeouts: every write that waits for it fails at least twice."""


@pytest.mark.timeout(150)
def test_a_store_locked_past_the_busy_timeout_loses_no_alert_and_stops_no_role(
    station: Station,
) -> None:
    """Another connection holds the write lock for 25 s while people keep walking into and
    out of the zone. The detection core waits on the alert (or the end of one) it had to
    write, retried until it commits, instead of dying on it; its heartbeat is skipped
    meanwhile, and the supervisor, which sees the beat grow old, does not kill it as hung;
    ingest keeps reading and recording."""
    listener = station.listener()
    intrusions = "SELECT id, triggered_at, ended_at FROM alerts WHERE kind = 'intrusion'"
    try:
        wait_for(lambda: listener.alerts, 90, "a person alert on the feed")
        first = min(listener.alerts)
        before = scrape(station.service.base_url)
        open_before = {row[0]: row[2] for row in station.query(intrusions)}
        with contextlib.closing(sqlite3.connect(station.database, isolation_level=None)) as db:
            db.execute("BEGIN EXCLUSIVE")
            time.sleep(LONG_LOCK_S)
            db.execute("COMMIT")
        released_at = time.time()

        def held_write_stored() -> bool:
            """An alert raised, or one ended, before the lock was released is stored now."""
            return any(
                (alert_id not in open_before and triggered < released_at)
                or (open_before.get(alert_id, 0) is None and ended and ended < released_at)
                for alert_id, triggered, ended in station.query(intrusions)
            )

        wait_for(held_write_stored, 15, "the write held through the lock")
        locked_at = released_at - LONG_LOCK_S
        later = "SELECT id FROM alerts WHERE kind = 'intrusion' AND triggered_at > ?"
        wait_for(lambda: station.query(later, (released_at + 1,)), 60, "alerts after the lock")
        assert_all_on_the_feed(station, listener, first)
    finally:
        listener.stop()
    stored = {row[0]: row[1:] for row in station.query("SELECT id, camera_id, rule FROM alerts")}
    for alert_id, shown in listener.alerts.items():
        assert stored.get(alert_id) == (shown["camera_id"], shown["rule"]), alert_id
    # Every alert the core counted as raised is in the store (none raised in this run was lost).
    counted_before = station.query("SELECT COUNT(*) FROM alerts WHERE kind = 'intrusion'")[0][0]
    after = scrape(station.service.base_url)
    counted_after = station.query("SELECT COUNT(*) FROM alerts WHERE kind = 'intrusion'")[0][0]
    raised = sum(by_label(after, "matthan_alerts_total", "rule").values())
    assert counted_before - 1 <= raised <= counted_after
    retried = delta(
        by_label(after, "matthan_store_retries_total", "operation"),
        by_label(before, "matthan_store_retries_total", "operation"),
    )
    assert retried.get("add_alert", 0) + retried.get("end_alert", 0) >= 1, retried
    skipped = delta(
        by_label(after, "matthan_store_writes_dropped_total", "operation"),
        by_label(before, "matthan_store_writes_dropped_total", "operation"),
    )
    assert skipped.get("heartbeat", 0) >= 1, skipped
    assert not {k: v for k, v in skipped.items() if k != "heartbeat" and v}, skipped
    down = "SELECT id FROM alerts WHERE kind = 'analysis_down' AND created_at > ?"
    assert not station.query(down, (locked_at,))
    log = station.log_text()
    assert station.service.process.poll() is None, log[-3000:]
    assert " exited with " not in log, log[-3000:]
    assert "stopped beating" not in log, log[-3000:]


@pytest.mark.timeout(30)
def test_a_reader_outlives_a_store_that_cannot_take_its_state_changes() -> None:
    """Past the busy timeout the store raises; the reader logs that and keeps reconnecting,
    where the error once ended its thread and the camera was never read again."""
    reports: list[CameraStatus] = []

    def locked_store(status: CameraStatus) -> None:
        reports.append(status)
        raise sqlite3.OperationalError("database is locked")

    url = f"rtsp://127.0.0.1:{free_port()}/nobody-listens"
    source = CameraSource("cam", url, None, 5.0, 640, 1.0, 1.0, MotionConfig())
    stop = threading.Event()
    reader = CameraReader(source, url, locked_store, stop)
    reader.start()
    try:
        wait_for(lambda: len(reports) >= 2, 10, "connecting, then offline")
        time.sleep(2 * Backoff().initial_s)
        assert reader.thread.is_alive()
    finally:
        stop.set()
        reader.thread.join(10)
    assert [status.state for status in reports] == [CameraState.CONNECTING, CameraState.OFFLINE]


def kill_service(service: Service) -> list[int]:
    """SIGKILL to the supervisor and every process under it at once; returns their pids."""
    pids = process_tree(service.process.pid)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    service.process.wait(10)
    wait_for(lambda: not any(running(pid) for pid in pids), 10, "the killed processes gone")
    return pids


def running(pid: int) -> bool:
    """Alive and not a zombie (nobody may reap the orphans of a killed supervisor)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rings_of(pids: list[int]) -> list[Path]:
    """The shared-memory frame rings that processes ``pids`` created."""
    owners = {str(pid) for pid in pids}
    pattern = re.compile(r"matthan-(\d+)-\d+")
    return [
        path
        for path in SHM_FOLDER.glob("matthan-*")
        if (match := pattern.fullmatch(path.name)) and match.group(1) in owners
    ]


@pytest.mark.timeout(200)
def test_kill_dash_nine_loses_no_alert_and_the_restart_records_the_gap(station: Station) -> None:
    listener = station.listener()
    try:
        wait_for(lambda: len(listener.alerts) >= 2, 90, "two alerts on the feed")
        segments = f"SELECT end FROM segments WHERE camera_id = '{CAMERA}'"
        wait_for(lambda: len(station.query(segments)) >= 2, 30, "two recorded segments")
        pids = kill_service(station.service)
        killed_at = time.time()
        assert listener.closed.wait(10), "the feed outlived the service"
    finally:
        listener.stop()
    stored = {row[0]: row[1:] for row in station.query("SELECT id, camera_id, rule FROM alerts")}
    for alert_id, shown in listener.alerts.items():
        assert stored.get(alert_id) == (shown["camera_id"], shown["rule"]), alert_id
    last_end = max(end for (end,) in station.query(segments))
    stranded = rings_of(pids)
    assert stranded, "a killed supervisor leaves its frame rings in /dev/shm"
    partials = list((station.folder / "data" / "rec" / CAMERA).rglob("*.mp4.partial"))
    assert len(partials) == 1, "the segment being written is left as a .partial"

    station.start()
    resumed = f"SELECT start FROM segments WHERE camera_id = '{CAMERA}' AND start > {killed_at}"
    wait_for(lambda: station.query(resumed), 60, "a segment recorded after the restart")
    # The partial was salvaged (indexed under its own name) or, if too short, deleted.
    assert not partials[0].exists()
    salvaged = partials[0].with_name(partials[0].name.removesuffix(".partial"))
    rows = station.query("SELECT end FROM segments WHERE path = ?", (str(salvaged),))
    assert salvaged.exists() == bool(rows)
    log = station.log_text()
    assert f"{partials[0].name} salvaged" in log or f"{partials[0].name} deleted" in log
    gaps = station.query(
        "SELECT start, end FROM coverage_gaps WHERE camera_id = ? AND cause = ?",
        (CAMERA, SERVICE_DOWN),
    )
    assert len(gaps) == 1, gaps
    start, end = gaps[0]
    assert start == pytest.approx(rows[0][0] if rows else last_end)  # where recording stopped
    assert end is not None
    assert killed_at < end <= min(start for (start,) in station.query(resumed)) + 1
    assert not any(ring.exists() for ring in stranded), "the new supervisor removes dead rings"
    person = f"SELECT id FROM alerts WHERE kind = 'intrusion' AND created_at > {killed_at}"
    wait_for(lambda: station.query(person), 60, "a person alert after the restart")


def record_until_killed(plan: WorkerPlan) -> None:
    """Child process: one real ingest worker, recording until it is killed."""
    context = mp.get_context("spawn")
    notices: Channel[AlertNotice] = Channel.create(
        context, "alert_notices", 100, policy=DropPolicy.NEWEST
    )
    run_worker(plan, notices, threading.Event())


def leftovers(camera_id: str, outcome: str) -> float:
    labels = {"camera": camera_id, "outcome": outcome}
    return REGISTRY.get_sample_value("matthan_recorder_leftovers_total", labels) or 0.0


@pytest.mark.timeout(120)
def test_a_segment_cut_by_kill_dash_nine_is_salvaged_at_the_next_start(
    farm: CameraFarm, tmp_path: Path
) -> None:
    """A worker recording 60 s segments is killed 5 s into one: its ``.partial`` (fragmented
    MP4) is remuxed into a plain MP4 and indexed at the next start, with the start its name
    gives and the seconds it holds; a ``.partial`` with nothing readable is deleted."""
    config = site([camera("cam", farm.url("pets"))])
    recording = RecordingConfig(path=tmp_path / "rec", segment_s=60)
    ring = FrameRing.create(RingPlan(f"test-{uuid.uuid4().hex[:8]}", ("cam",), 640, 640))
    plan = WorkerPlan(
        shard=0,
        sources=tuple(sources_for(config)),
        database=tmp_path / "ingest.db",
        ring=ring.name,
        recording=recording,
        offline_alert_after_s=10,
    )
    child = mp.get_context("spawn").Process(target=record_until_killed, args=(plan,))
    child.start()
    try:
        wait_for(lambda: list(recording.path.rglob("*.partial")), 30, "a segment being written")
        time.sleep(5)
    finally:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(10)
        ring.close()
    (partial,) = recording.path.rglob("*.partial")
    assert partial.stat().st_size > 0
    start = segment_start(partial)
    assert start is not None
    unreadable = partial.with_name(
        time.strftime("%H%M%S", time.localtime(start + 1)) + "-000.mp4.partial"
    )
    unreadable.write_bytes(partial.read_bytes()[:600])  # cut inside the header
    counts = leftovers("cam", "salvaged"), leftovers("cam", "deleted")

    run = IngestRun(config, tmp_path, recording)  # the next start, on the same store and folder
    try:
        final = partial.with_name(partial.name.removesuffix(".partial"))
        wait_for(lambda: recordings.segments(run.store, "cam"), 10, "the salvaged segment indexed")
        salvaged = recordings.segments(run.store, "cam")[0]
    finally:
        run.close()
    assert salvaged.path == str(final)
    assert salvaged.start == pytest.approx(start)
    assert 3.0 <= salvaged.end - salvaged.start <= 6.0  # about the 5 s it ran, less the cut end
    assert not partial.exists()
    assert not unreadable.exists()
    assert not unreadable.with_name(unreadable.name.removesuffix(".partial")).exists()
    frames, duration = decoded(final)
    assert frames > 30
    assert duration == pytest.approx(salvaged.end - salvaged.start, abs=0.2)
    assert (leftovers("cam", "salvaged"), leftovers("cam", "deleted")) == (
        counts[0] + 1,
        counts[1] + 1,
    )


def decoded(path: Path) -> tuple[int, float]:
    """Frames decoded from a file and the seconds they span."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base  # read while open: PyAV 18.1.1 refuses a closed stream's
        stamps = [frame.pts for frame in container.decode(stream) if frame.pts is not None]
    assert time_base is not None
    return len(stamps), float((stamps[-1] - stamps[0]) * time_base)


VOLUME_MB = 4
FLOOR_MB = 2


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted for the test (root only), unmounted at teardown."""
    folder = tmp_path / "rec"
    folder.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", f"size={VOLUME_MB}m", "tmpfs", str(folder)]
    mounted = subprocess.run(command, capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


def recorder_errors(camera_id: str) -> float:
    value = REGISTRY.get_sample_value("matthan_recorder_errors_total", {"camera": camera_id})
    return value or 0.0


def notices_of(run: IngestRun, kind: str) -> list[int]:
    """Drain the worker's alert notices; the alert ids of ``kind`` among them."""
    found = []
    while (notice := run.notices.receive(timeout=0.5)) is not None:
        if notice.kind == kind:
            found.append(notice.alert_id)
    return found


@pytest.mark.timeout(150)
def test_full_recordings_volume_is_freed_or_said_and_analysis_goes_on(
    small_volume: Path, tmp_path: Path
) -> None:
    """Retention keeps a free-space floor by deleting the oldest segments; when nothing may
    be deleted (legal hold), the volume fills up, the recorders pause and a "disk low" alert
    is raised; analysis never stops; lifting the hold frees space and ends the alert."""
    clips = clips_dir()
    mounts = [
        Mount("a", clips / "pets09_s2l1_vtest.mp4"),
        Mount("b", clips / "residential_street_cars_unverified.mp4"),
    ]
    with CameraFarm(mounts) as farm:
        config = site([camera(name, farm.url(name)) for name in ("a", "b")])
        recording = RecordingConfig(path=small_volume, segment_s=2, min_free_gb=FLOOR_MB / 1000)
        run = IngestRun(config, tmp_path, recording, retention_every_s=1)
        try:
            first = "SELECT MIN(id) FROM segments"
            wait_for(lambda: run.store.read(first)[0][0], 30, "a first segment")
            oldest = run.store.read(first)[0][0]
            wait_for(
                lambda: oldest not in {s.id for s in recordings.segments(run.store)},
                40,
                "retention removing the oldest segment",
            )
            assert not alerts(run.store, "*", DISK_LOW_KIND)

            for name in ("a", "b"):
                recordings.add_legal_hold(
                    run.store, name, start=0, end=1e12, reason="case 7", by="test", at=time.time()
                )
            wait_for(lambda: alerts(run.store, "*", DISK_LOW_KIND), 20, "the disk low alert")
            ((alert_id, _),) = alerts(run.store, "*", DISK_LOW_KIND)
            wait_for(lambda: recorder_errors("a") and recorder_errors("b"), 40, "a full volume")
            assert shutil.disk_usage(small_volume).free < FLOOR_MB * 1e6
            assert run.fps("a", 3) > 3  # analysis goes on
            assert run.fps("b", 3) > 3
            assert alert_id in notices_of(run, DISK_LOW_KIND)

            with run.store.transaction() as db:
                db.execute("DELETE FROM legal_holds")
            lifted = time.time()
            wait_for(lambda: alerts(run.store, "*", DISK_LOW_KIND)[0][1], 20, "alert ended")
            again = f"SELECT id FROM segments WHERE camera_id = 'a' AND start > {lifted}"
            wait_for(lambda: run.store.read(again), 30, "recording again after the hold")
            assert not alerts(run.store, "a", OFFLINE_KIND)
            assert not alerts(run.store, "b", OFFLINE_KIND)
        finally:
            run.close()
