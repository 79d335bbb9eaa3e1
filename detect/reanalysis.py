"""The re-analysis process: takes queued jobs one at a time and runs the current rules on them.

An operator asks what the rules would have raised over a camera's recordings, or on a file
brought in (see :mod:`common.jobs`). This process has a model of its own and runs at a lower
CPU priority than everything else (``nice`` 10), so live analysis comes first: on a busy
station a job simply takes longer.

A job that goes wrong (no recordings in its range, a file that is not a video, a camera that
left the config, a bug) ends ``failed`` with a detail saying why, and the runner takes the next
one. A job that was running when the process died (or was stopped) is put back in the queue at
the next start, its partial findings deleted (:func:`common.jobs.requeue_interrupted`): the
supervisor runs a single re-analysis process, so nothing else can be running it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from common import jobs
from common.config import SiteConfig
from common.heartbeat import Heartbeat
from common.jobs import JobState
from common.roles import REANALYSIS_ROLE
from common.store import Store
from detect.core import build_detector
from detect.detector import Detector
from detect.errors import MediaError
from detect.job_run import Ending, JobRun
from detect.metrics import REANALYSIS_JOB_SECONDS, REANALYSIS_JOBS, REANALYSIS_QUEUED

log = logging.getLogger(__name__)
NICENESS = 10
"""Added to the process's nice value: the scheduler favours live analysis over jobs."""
IDLE_WAIT_S = 1.0
"""How long an idle runner waits before it looks at the queue again."""


@dataclass(frozen=True, slots=True)
class ReanalysisPlan:
    """What the re-analysis process is started with."""

    site: SiteConfig
    database: Path


class JobRunner:
    """Takes the oldest queued job, runs it and records how it ended."""

    def __init__(
        self,
        site: SiteConfig,
        store: Store,
        detector: Detector,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._site = site
        self._store = store
        self._detector = detector
        self._heartbeat = heartbeat

    def run_next(self, stop: threading.Event) -> bool:
        """Run the oldest queued job to its end; False if the queue was empty."""
        waiting = jobs.queue_length(self._store)  # a read: idle polling takes no write lock
        job = jobs.claim_next(self._store) if waiting else None
        REANALYSIS_QUEUED.set(waiting - (job is not None))
        if job is None:
            return False
        log.info("job %d: %s of camera %s started", job.id, job.source.value, job.camera_id)
        started = time.monotonic()
        run = JobRun(self._site, self._store, self._detector, job, self._heartbeat)
        try:
            ending = run.run(stop)
        except MediaError as error:
            ending = Ending(JobState.FAILED, str(error), error.code)
        except Exception as error:  # a bad job must not end the runner
            log.exception("job %d failed", job.id)
            detail = f"internal error ({type(error).__name__}: {error})"
            ending = Ending(JobState.FAILED, detail, "internal")
        if ending is None:
            log.info("job %d interrupted after %d frames; it runs again later", job.id, run.frames)
            return True
        jobs.finish(self._store, job.id, ending.state, ending.detail, ending.code)
        seconds = time.monotonic() - started
        REANALYSIS_JOBS.labels(ending.state.value).inc()
        REANALYSIS_JOB_SECONDS.observe(seconds)
        log.info("job %d %s in %.1f s: %s", job.id, ending.state.value, seconds, ending.detail)
        return True


def run_reanalysis(plan: ReanalysisPlan, stop: threading.Event) -> None:
    """Process entry point: run queued jobs until ``stop`` is set."""
    os.nice(NICENESS)  # before the model starts its threads, which inherit it
    store = Store(plan.database)
    try:
        requeued = jobs.requeue_interrupted(store)
        if requeued:
            log.info("%d interrupted job(s) queued again", requeued)
        detector = build_detector(plan.site, plan.site.reanalysis.threads)
        heartbeat = Heartbeat(store, REANALYSIS_ROLE)
        runner = JobRunner(plan.site, store, detector, heartbeat)
        log.info("re-analysis ready (%d thread(s))", plan.site.reanalysis.threads)
        while not stop.is_set():
            heartbeat.maybe_beat("idle")
            try:
                busy = runner.run_next(stop)
            except sqlite3.Error as error:  # the store is locked or failing: retry later
                log.error("re-analysis could not use the store: %s", error)
                busy = False
            if not busy:
                stop.wait(IDLE_WAIT_S)
    finally:
        store.close()
