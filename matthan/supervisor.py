"""The process supervisor: start every role, restart what dies, stop everything cleanly.

Roles are ingest shards (cameras split across worker processes), the detection core, the
dashboard and, unless turned off, the re-analysis job runner (:mod:`detect.reanalysis`, which
needs only the store). They talk through what the supervisor creates before it starts them:
one shared-memory frame ring per ingest shard, holding each camera's newest analysis frame for
the detection core (:mod:`matthan.rings`), and bounded channels for alert notices (detection ->
dashboard) and the tracked boxes of the cameras watched live (detection -> dashboard, with the
shared flags that say which cameras are watched: :mod:`common.watching`). A role that dies is
restarted with backoff; one that dies more than ``RESTART_BUDGET`` times in
``RESTART_WINDOW_S`` makes the whole service stop with an error instead of flapping.

The detection core gets more care. Nothing in ingest waits on it: it reads the rings, and a
core killed mid-read leaves no lock held for its successor. When the core dies, or hangs (its
heartbeat stops while it is alive: it is killed), the supervisor raises a site-wide "analysis
down" alert, ended once the restarted core beats again (:mod:`matthan.analysis_watch`). Ingest
and recording carry on meanwhile.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

from common.channel import Channel, DropPolicy
from common.config import SiteConfig
from common.frame_ring import FrameRing
from common.messages import AlertNotice, FrameDetections
from common.roles import (
    DASHBOARD_ROLE,
    DETECT_ROLE,
    INTAKE_ROLE,
    REANALYSIS_ROLE,
    ingest_role,
    shard,
)
from common.store import Store
from common.watching import DetectionsChannel, WatchedCameras
from dashboard.server import DashboardPlan, run_dashboard
from detect.core import DetectorPlan, run_detector
from detect.reanalysis import ReanalysisPlan, run_reanalysis
from ingest.source import sources_for
from ingest.worker import WorkerPlan, run_worker
from matthan.analysis_watch import AnalysisWatch
from matthan.child import child_main
from matthan.rings import create_rings

log = logging.getLogger(__name__)

RESTART_BUDGET = 5
RESTART_WINDOW_S = 300.0
MAX_RESTART_DELAY_S = 30.0
NOTICE_QUEUE_SIZE = 1000
OVERLAY_QUEUE_SIZE = 64
"""Frames of tracked boxes in flight to the dashboard (only cameras watched live send any)."""


class SupervisorError(RuntimeError):
    """A role kept dying; the service gave up."""


class SiteMode(StrEnum):
    """Which roles this machine runs for its site."""

    WHOLE = "whole"
    """One machine does everything: ingest, detection, the dashboard, re-analysis."""
    NODE = "node"
    """An analysis node of a multi-machine site (``matthan node``): ingest and detection of
    the cameras it holds; its alerts go to the station through its outbox."""
    STATION = "station"
    """The station of a multi-machine site: the dashboard, re-analysis of uploads and the
    intake of the nodes' alert stream; no camera is read here."""


@dataclass
class Role:
    """One supervised process and its restart history."""

    name: str
    target: Callable[..., None]
    args: tuple[Any, ...]
    process: SpawnProcess | None = None
    restarts: list[float] = field(default_factory=list)
    next_start: float = 0.0
    started_at: float = 0.0
    """Wall-clock time of the last start."""


class Supervisor:
    """Runs a site until :meth:`request_stop` (or a signal) and then shuts it down."""

    def __init__(
        self, site: SiteConfig, workers: int | None = None, mode: SiteMode = SiteMode.WHOLE
    ) -> None:
        self.site = site
        self.mode = mode
        self._ctx = mp.get_context("spawn")
        self._stopping = False
        self._roles: list[Role] = []
        self._workers = workers or site.ingest.workers or os.cpu_count() or 1
        self._store: Store | None = None
        self._analysis: AnalysisWatch | None = None
        self._rings: list[FrameRing] = []
        self._notices: Channel[AlertNotice] | None = None
        self.overlay: DetectionsChannel | None = None
        """The boxes channel and watched flags, once the roles are planned (a node's live
        feeds use them: :mod:`matthan.cluster.live_feed`)."""

    def _plan_roles(self) -> None:
        site, database = self.site, self.site.storage.database.resolve()
        notices: Channel[AlertNotice] = Channel.create(
            self._ctx, "alert_notices", NOTICE_QUEUE_SIZE, policy=DropPolicy.NEWEST
        )
        boxes: Channel[FrameDetections] = Channel.create(
            self._ctx, "overlay_boxes", OVERLAY_QUEUE_SIZE, policy=DropPolicy.NEWEST
        )
        overlay = DetectionsChannel(
            boxes, WatchedCameras.create(self._ctx, [camera.id for camera in site.cameras])
        )
        self._store = Store(database)
        self._notices = notices
        self.overlay = overlay
        if self.mode is not SiteMode.STATION:
            self._plan_analysis(notices, overlay)
        if self.mode is SiteMode.NODE:
            return
        if self.mode is SiteMode.STATION:
            from matthan.cluster.intake import IntakePlan, run_intake

            intake = IntakePlan(site, database)
            self._roles.append(Role(INTAKE_ROLE, run_intake, (intake, notices)))
        dashboard = DashboardPlan(site, database)
        self._roles.append(Role(DASHBOARD_ROLE, run_dashboard, (dashboard, notices, overlay)))
        if site.reanalysis.enabled:
            reanalysis = ReanalysisPlan(site, database)
            self._roles.append(Role(REANALYSIS_ROLE, run_reanalysis, (reanalysis,)))

    def _plan_analysis(self, notices: Channel[AlertNotice], overlay: DetectionsChannel) -> None:
        """Ingest shards and the detection core, watched for "analysis down"."""
        site, database = self.site, self.site.storage.database.resolve()
        shards = shard(sources_for(site), self._workers)
        self._rings = create_rings(
            [[source.camera_id for source in sources] for sources in shards],
            site.ingest.analysis_size,
        )
        for index, sources in enumerate(shards):
            plan = WorkerPlan(
                shard=index,
                sources=tuple(sources),
                database=database,
                ring=self._rings[index].name,
                recording=site.recording.model_copy(update={"path": site.recording.path.resolve()}),
                offline_alert_after_s=site.ingest.offline_alert_after_s,
                tamper_debounce_s=site.ingest.tamper_debounce_s,
                thumbnail_interval_s=site.ingest.thumbnail_interval_s,
            )
            self._roles.append(Role(ingest_role(index), run_worker, (plan, notices)))
        detector = DetectorPlan(site, database, tuple(ring.name for ring in self._rings))
        self._roles.append(Role(DETECT_ROLE, run_detector, (detector, notices, overlay)))
        assert self._store is not None
        self._analysis = AnalysisWatch(self._store, notices)

    def _start(self, role: Role) -> None:
        process = self._ctx.Process(
            target=child_main, args=(role.name, role.target, role.args), name=role.name
        )
        process.start()
        role.process = process
        role.started_at = time.time()
        log.info("started %s (pid %s)", role.name, process.pid)

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def run(self) -> None:
        """Start every role and watch them until asked to stop."""
        self._plan_roles()
        for role in self._roles:
            self._start(role)
        try:
            while not self._stopping:
                try:
                    self._watch()
                except sqlite3.Error as exc:
                    # The store is locked or failing: the roles carry on; the next tick retries.
                    log.error("supervisor could not write to the store: %s", exc)
                time.sleep(0.5)
        finally:
            self.shutdown()

    def _watch(self) -> None:
        now = time.monotonic()
        for role in self._roles:
            process = role.process
            if process is None:
                if now >= role.next_start:
                    self._start(role)
                continue
            if process.is_alive():
                self._kill_if_hung(role, process)
                continue
            multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
            log.error("%s (pid %s) exited with %s", role.name, process.pid, process.exitcode)
            role.process = None
            if role.name == DETECT_ROLE:
                self._detector_died(process.exitcode)
            role.restarts = [t for t in role.restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(role.restarts) > RESTART_BUDGET:
                raise SupervisorError(
                    f"{role.name} died {len(role.restarts)} times in {RESTART_WINDOW_S:.0f} s"
                )
            role.next_start = now + min(MAX_RESTART_DELAY_S, 2 ** (len(role.restarts) - 1))
        if self._analysis is not None:
            self._analysis.check()

    def _detector_died(self, exitcode: int | None) -> None:
        if self._analysis is not None:
            detail = f"detector exited ({exitcode}); restarting"
            self._analysis.went_down(time.time(), detail)

    def _kill_if_hung(self, role: Role, process: SpawnProcess) -> None:
        """Kill a detection core whose heartbeat stopped; the next tick restarts it."""
        if role.name != DETECT_ROLE or self._analysis is None:
            return
        if self._analysis.is_hung(role.started_at, time.time()):
            log.error("%s (pid %s) stopped beating; killing it", role.name, process.pid)
            process.kill()
            process.join(5)

    def shutdown(self, timeout_s: float = 15.0) -> None:
        """Ask every role to stop (SIGTERM), wait, then kill what is left."""
        for role in self._roles:
            if role.process is not None and role.process.is_alive():
                role.process.terminate()
        deadline = time.monotonic() + timeout_s
        for role in self._roles:
            if role.process is not None:
                role.process.join(max(0.1, deadline - time.monotonic()))
        for role in self._roles:
            process = role.process
            if process is not None and process.is_alive():
                log.warning("%s did not stop in time; killing it", role.name)
                process.kill()
                process.join(5)
        for ring in self._rings:
            ring.close()
        self._rings = []
        if self._notices is not None:
            self._notices.close()  # the supervisor sends "analysis down" notices itself
        if self._store is not None:
            self._store.close()
        log.info("all roles stopped")


def prepare_metrics_dir(data_dir: Path) -> None:
    """Prometheus multiprocess mode: a fresh folder shared by every child."""
    folder = data_dir / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
