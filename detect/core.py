"""The detection core process: fair batches from every camera -> model -> tracker -> rules.

Per analysed frame: the batch goes through the model once; then, camera by camera, the
detections go through that camera's tracker (:mod:`detect.tracking`), the tracked ones through
its rules (:mod:`detect.rules`), and the rules' events become alerts (:mod:`detect.alerts`).
The loop beats the ``detect`` heartbeat, which the supervisor watches to end its
"analysis down" alert after a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path
from zoneinfo import ZoneInfo

from common.config import CameraConfig, SiteConfig
from common.frame_ring import Frame
from common.heartbeat import Heartbeat, heartbeat_ages
from common.messages import AlertNotice, FrameRef
from common.paths import resolve_model
from common.store import Store
from common.store_retry import UNTIL_COMMITTED
from common.watching import DetectionsChannel
from detect.alerts import AlertKeeper, AnalysedFrame
from detect.backends.factory import create_backend
from detect.batcher import Batcher
from detect.detections import Detections
from detect.detector import Detector, class_ids_for
from detect.metrics import (
    BATCH_SIZE,
    DETECTIONS,
    FRAME_AGE_SECONDS,
    FRAMES_ANALYSED,
    INFERENCE_SECONDS,
)
from detect.overlay import OverlayPublisher
from detect.pending import PendingFrame
from detect.rules import CameraRules
from detect.sightings import BestSightings
from detect.tracking import TRACKING_FLOOR, CameraTracker

log = logging.getLogger(__name__)
ROLE = "detect"


@dataclass(frozen=True, slots=True)
class DetectorPlan:
    """What the detection process is started with."""

    site: SiteConfig
    database: Path


def build_detector(site: SiteConfig, threads: int | None = None) -> Detector:
    """The model the site asks for, restricted to the classes its rules use.

    Its score floor is :data:`detect.tracking.TRACKING_FLOOR` (or the site's ``confidence`` if
    lower): the tracker wants the weak boxes too; the site's threshold applies after tracking.
    ``threads`` overrides ``detector.threads`` (the re-analysis runner has its own).
    """
    config = site.detector
    backend = create_backend(config.backend, resolve_model(config.model), threads or config.threads)
    wanted = {name for camera in site.cameras for rule in camera.rules for name in rule.classes}
    return Detector(
        backend,
        imgsz=config.input_size,
        confidence=min(TRACKING_FLOOR, config.confidence),
        iou=config.iou,
        classes=class_ids_for(wanted, backend.class_names) if wanted else None,
    )


class CameraAnalysis:
    """What follows one camera from frame to frame: its tracker, rules and best sightings.

    The live core keeps one per camera; a re-analysis job makes a fresh one that is not
    ``live`` (its line crossings stay out of the metrics).
    """

    def __init__(
        self,
        site: SiteConfig,
        camera: CameraConfig,
        class_names: tuple[str, ...],
        *,
        live: bool = True,
    ) -> None:
        self.camera_id = camera.id
        self.tracker = CameraTracker(site.analysis_fps(camera), site.detector.confidence)
        self.rules = CameraRules(camera, class_names, ZoneInfo(site.site.timezone), live=live)
        self.sightings = BestSightings()

    def analyse(
        self, image: Frame, detections: Detections, t: float, alerts: AlertKeeper
    ) -> Detections:
        """Track one frame's detections (taken at ``t``), apply the rules, hand their events
        to ``alerts``; returns the tracked detections the rules saw."""
        tracked = self.tracker.update(detections, t)
        self.sightings.note(image, tracked, t)
        height, width = image.shape[:2]
        events = self.rules.evaluate(tracked, width, height, t)
        alerts.handle(AnalysedFrame(self.camera_id, image, tracked, self.sightings), events)
        return tracked


class DetectionCore:
    """Runs batches through the detector, the trackers and the rules.

    With an ``overlay`` channel, each frame's tracked boxes also go to the dashboard, for the
    cameras watched live (:mod:`detect.overlay`).
    """

    def __init__(
        self,
        site: SiteConfig,
        store: Store,
        notices: Queue[AlertNotice],
        detector: Detector,
        overlay: DetectionsChannel | None = None,
    ) -> None:
        self._detector = detector
        self._confidence = site.detector.confidence
        names = detector.class_names
        self._cameras = {cam.id: CameraAnalysis(site, cam, names) for cam in site.cameras}
        self.alerts = AlertKeeper(store, notices, names)
        self._overlay = OverlayPublisher(overlay, names) if overlay is not None else None

    def camera(self, camera_id: str) -> CameraAnalysis:
        """The tracker, rules and sightings of one camera."""
        return self._cameras[camera_id]

    def process(self, batch: list[PendingFrame]) -> None:
        """Detect on one batch and act on what the rules say.

        Frames of one size go through the model together, in their minimum letterbox rectangle;
        a batch mixing sizes is split by size rather than padded to squares (fewer pixels).
        """
        by_size: dict[tuple[int, int], list[PendingFrame]] = {}
        for frame in batch:
            by_size.setdefault((frame.ref.height, frame.ref.width), []).append(frame)
        for frames in by_size.values():
            self._process_same_size(frames)

    def _process_same_size(self, frames: list[PendingFrame]) -> None:
        started = time.perf_counter()
        results = self._detector.detect([frame.image for frame in frames])
        INFERENCE_SECONDS.observe(time.perf_counter() - started)
        BATCH_SIZE.observe(len(frames))
        now = time.time()
        for frame, detections in zip(frames, results, strict=True):
            FRAME_AGE_SECONDS.observe(now - frame.ref.captured_at)
            FRAMES_ANALYSED.labels(frame.ref.camera_id).inc()
            self._count(detections)
            self.analyse(frame.ref, frame.image, detections)

    def analyse(self, ref: FrameRef, image: Frame, detections: Detections) -> None:
        """Track one frame's detections and apply the camera's rules."""
        camera = self._cameras[ref.camera_id]
        tracked = camera.analyse(image, detections, ref.captured_at, self.alerts)
        if self._overlay is not None:
            self._overlay.publish(ref, tracked)

    def _count(self, detections: Detections) -> None:
        names = self._detector.class_names
        confident = detections.class_id[detections.confidence >= self._confidence]
        for class_id in confident.tolist():
            DETECTIONS.labels(names[class_id]).inc()


def run_detector(
    plan: DetectorPlan,
    frames: Queue[FrameRef],
    notices: Queue[AlertNotice],
    overlay: DetectionsChannel | None,
    stop: threading.Event,
) -> None:
    """Process entry point: analyse until ``stop`` is set.

    The store is opened to retry its writes until they commit: while another connection
    holds it, an alert waits (and the core with it; stale frames are dropped and counted)
    instead of being lost or ending the core, and a beat that cannot be written is skipped
    (:mod:`common.heartbeat`; the supervisor allows for that, :mod:`detect.downtime`).
    """
    site, config = plan.site, plan.site.detector
    store = Store(plan.database, retry=UNTIL_COMMITTED)
    _end_orphans(store)
    heartbeat = Heartbeat(store, ROLE)
    core = DetectionCore(site, store, notices, build_detector(site), overlay)
    priorities = {camera.id: camera.priority for camera in site.cameras if camera.enabled}
    batcher = Batcher(
        frames, priorities, config.max_batch, config.max_wait_ms / 1000, config.stale_after_s
    )
    batcher.start()
    log.info("detection core ready (%s, %d cameras)", config.backend, len(priorities))
    try:
        while not stop.is_set():
            heartbeat.maybe_beat("degraded" if batcher.load.degraded else "ok")
            core.process(batcher.next_batch())
            batcher.publish_load()
    finally:
        batcher.close()
        core.alerts.end_all(time.time())
        notices.cancel_join_thread()
        if overlay is not None:
            overlay.queue.cancel_join_thread()
        store.close()


def _end_orphans(store: Store) -> None:
    """End the alerts a previous core left open, as of its last heartbeat."""
    age = heartbeat_ages(store).get(ROLE)
    ended = AlertKeeper.end_orphans(store, time.time() - (age or 0.0))
    if ended:
        log.info("ended %d alert(s) left open by the previous detection core", ended)
