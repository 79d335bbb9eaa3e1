"""One re-analysis job, from its media to its findings: what the rules raise on it today.

The job's frames (:mod:`detect.job_media`) go through the model in batches of
``reanalysis.batch``, then one by one, in time order, through a fresh tracker, rules and best
sightings of the job's camera (:class:`detect.core.CameraAnalysis`, the step live analysis takes
for every frame). What the rules raise is stored as the job's findings
(:class:`common.jobs.JobAlertSink`), never announced on the live feed. On a camera that reads
plates, its vehicle tracks' plates are read too, in the job's frames (the analysed picture:
the main stream is not decoded again), and kept with the job (``plate_reads.job_id``); a
watch-listed plate becomes a finding. Alerts still open when the
media ends are ended at the media's last time, as the live core ends its alerts when it stops.

About once a second the run writes its progress, beats the role's heartbeat (a long job is
not a hung process) and looks whether the operator cancelled it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from common import jobs
from common.config import CameraConfig, SiteConfig
from common.heartbeat import Heartbeat
from common.jobs import Job, JobAlertSink, JobSource, JobState
from common.store import Store
from detect.alerts import AlertKeeper
from detect.core import CameraAnalysis
from detect.detector import Detector
from detect.errors import MediaError
from detect.job_media import JobMedia, MediaFrame, MediaGate, recording_media, upload_media
from detect.looker import FrameLook, Looker, look_now
from detect.metrics import REANALYSIS_FRAMES
from detect.plates.candidates import PlateOffer
from detect.plates.worker import PlateWorker

REPORT_EVERY_S = 1.0
"""How often a running job writes its progress and checks for a cancel."""


@dataclass(frozen=True, slots=True)
class Ending:
    """How a job ended: its final state and the detail the operator reads."""

    state: JobState
    detail: str
    code: str
    """The case, said by the page in the operator's language (:data:`common.jobs.DETAIL_CODES`)."""


class JobRun:
    """Runs one claimed job; :meth:`run` returns how it ended."""

    def __init__(
        self,
        site: SiteConfig,
        store: Store,
        detector: Detector,
        job: Job,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._site = site
        self._store = store
        self._detector = detector
        self._job = job
        self._heartbeat = heartbeat
        self._looker = Looker(detector, site.detector.region_size)
        self.frames = 0
        """Frames analysed so far."""

    def run(self, stop: threading.Event) -> Ending | None:
        """Analyse the job's media; None if ``stop`` was set first (the job stays ``running``
        and is queued again when the next runner starts). MediaError when the media cannot be
        analysed at all."""
        job = self._job
        camera = next((c for c in self._site.cameras if c.id == job.camera_id), None)
        if camera is None:
            detail = f"camera {job.camera_id!r} is no longer in the site configuration"
            return Ending(JobState.FAILED, detail, "camera_gone")
        media = self._media(camera)
        names = self._detector.class_names
        sink = JobAlertSink(self._store, job.id)
        self._offers: list[PlateOffer] = []
        self._plates = (
            PlateWorker(self._store, None, {camera.id: "detect"}, alerts=sink, job_id=job.id)
            if camera.plates.enabled
            else None
        )
        if self._plates is not None:
            self._plates.refresh_watch_list(force=True)
        plates = self._offers.append if self._plates is not None else None
        analysis = CameraAnalysis(self._site, camera, names, live=False, plates=plates)
        self._gate = MediaGate(camera)
        alerts = AlertKeeper(sink, None, names, live=False)
        batch_size = self._site.reanalysis.batch
        batch: list[MediaFrame] = []
        next_report = time.monotonic() + REPORT_EVERY_S
        for frame in media.frames():
            batch.append(frame)
            if len(batch) < batch_size:
                continue
            self._analyse(batch, analysis, alerts)
            batch = []
            if stop.is_set():
                return None
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + REPORT_EVERY_S
                jobs.report_progress(self._store, job.id, media.progress, self.frames)
                if self._heartbeat is not None:
                    self._heartbeat.maybe_beat(f"job {job.id}")
                if jobs.cancel_requested(self._store, job.id):
                    alerts.end_all(media.last_at or job.start)
                    self._end_plates(media.last_at or job.start)
                    detail = f"cancelled after {self.frames} frames"
                    return Ending(JobState.CANCELLED, detail, "cancelled")
        self._analyse(batch, analysis, alerts)
        alerts.end_all(media.last_at or job.start)
        self._end_plates(media.last_at or job.start)
        jobs.report_progress(self._store, job.id, media.progress, self.frames)
        return self._ending(media)

    def _media(self, camera: CameraConfig) -> JobMedia:
        job, site = self._job, self._site
        fps, long_side = site.analysis_fps(camera), site.ingest.analysis_size
        if job.source == JobSource.RECORDING:
            end = job.end if job.end is not None else time.time()
            clock = ZoneInfo(site.site.timezone)
            return recording_media(
                self._store,
                camera.id,
                job.start,
                end,
                clock,
                fps=fps,
                long_side=long_side,
                token_env=site.cluster.token_env,
                ca=site.cluster.tls_ca,
            )
        if job.upload_path is None:
            raise MediaError("the job names no uploaded file", "upload_missing")
        path = Path(job.upload_path)
        if not path.is_absolute():  # saved under the database folder
            path = self._store.path.parent / path
        name = job.upload_name or path.name
        media, duration_s = upload_media(path, name, job.start, fps=fps, long_side=long_side)
        if duration_s is not None:
            jobs.set_end(self._store, job.id, job.start + duration_s)
        return media

    def _analyse(
        self, batch: list[MediaFrame], analysis: CameraAnalysis, alerts: AlertKeeper
    ) -> None:
        """The batch's looks through the model together, then each frame, in time order,
        through the camera's analysis: the live core's steps, with the same motion gate
        deciding where regions-mode looks (every frame is analysed, moving or not)."""
        if not batch:
            return
        looks = [FrameLook(frame.image, analysis.plan(self._gate.ref(frame))) for frame in batch]
        found = look_now(self._looker, looks)
        for frame, look, detections in zip(batch, looks, found, strict=True):
            analysis.analyse(frame.image, detections, frame.at, alerts, look.look)
        self.frames += len(batch)
        REANALYSIS_FRAMES.labels(analysis.camera_id).inc(len(batch))
        if self._plates is not None:
            for offer in self._offers:
                self._plates.handle(offer)
            self._offers.clear()
            self._plates.expire(batch[-1].at)

    def _end_plates(self, at: float) -> None:
        if self._plates is not None:
            self._plates.stop(at=at)

    def _ending(self, media: JobMedia) -> Ending:
        skipped = f"; skipped {', '.join(media.skipped)}" if media.skipped else ""
        if self.frames == 0 and media.skipped:
            return Ending(JobState.FAILED, f"no recording could be read{skipped}", "unreadable")
        found = jobs.job(self._store, self._job.id)
        findings = found.alerts if found is not None else 0
        detail = f"{self.frames} frames, {findings} findings{skipped}"
        return Ending(JobState.DONE, detail, "skipped" if skipped else "done")
