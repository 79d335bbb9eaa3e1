"""The detection core process: batches from every camera -> model -> rules -> alerts.

An alert is committed to the store *before* its notice is published, so whatever the
dashboard shows is already durable; a notice lost on the way (the bus is bounded) is
recovered by the dashboard reading the store.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from zoneinfo import ZoneInfo

from common.config import SiteConfig
from common.messages import AlertNotice, FrameRef
from common.paths import resolve_model
from common.store import NewAlert, Store
from detect.backends.factory import create_backend
from detect.batcher import Batcher
from detect.detections import Detections
from detect.detector import Detector, class_ids_for
from detect.frames import FrameReader
from detect.metrics import (
    ALERTS,
    BATCH_SIZE,
    DETECTIONS,
    FRAME_AGE_SECONDS,
    FRAMES_ANALYSED,
    INFERENCE_SECONDS,
)
from detect.rules import CameraRules, Trigger
from detect.snapshots import Image, annotated, crop, encode_jpeg

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DetectorPlan:
    """What the detection process is started with."""

    site: SiteConfig
    database: Path


def build_detector(site: SiteConfig) -> Detector:
    """The model the site asks for, restricted to the classes its rules use."""
    config = site.detector
    backend = create_backend(config.backend, resolve_model(config.model), config.threads)
    wanted = {name for camera in site.cameras for rule in camera.rules for name in rule.classes}
    return Detector(
        backend,
        imgsz=config.input_size,
        confidence=config.confidence,
        iou=config.iou,
        classes=class_ids_for(wanted, backend.class_names) if wanted else None,
    )


class DetectionCore:
    """Runs batches through the detector and rules until stopped."""

    def __init__(
        self, site: SiteConfig, store: Store, notices: Queue[AlertNotice], detector: Detector
    ) -> None:
        self._store = store
        self._notices = notices
        self._detector = detector
        timezone = ZoneInfo(site.site.timezone)
        names = detector.class_names
        self._rules = {cam.id: CameraRules(cam, names, timezone) for cam in site.cameras}
        self._frames = FrameReader()

    def process(self, refs: list[FrameRef]) -> None:
        """Detect on one batch and act on what the rules say."""
        loaded = self._frames.load(refs)
        if not loaded:
            return
        started = time.perf_counter()
        results = self._detector.detect([image for _, image in loaded])
        INFERENCE_SECONDS.observe(time.perf_counter() - started)
        BATCH_SIZE.observe(len(loaded))
        now = time.time()
        for (ref, image), detections in zip(loaded, results, strict=True):
            FRAME_AGE_SECONDS.observe(now - ref.captured_at)
            FRAMES_ANALYSED.labels(ref.camera_id).inc()
            self._count(detections)
            rules = self._rules[ref.camera_id]
            for trigger in rules.evaluate(detections, ref.width, ref.height, ref.captured_at):
                self._raise_alert(ref, image, trigger)

    def _count(self, detections: Detections) -> None:
        names = self._detector.class_names
        for class_id in detections.class_id.tolist():
            DETECTIONS.labels(names[class_id]).inc()

    def _raise_alert(self, ref: FrameRef, image: Image, trigger: Trigger) -> None:
        label = f"{trigger.class_name} {trigger.confidence:.2f}"
        alert = NewAlert(
            camera_id=ref.camera_id,
            kind=trigger.rule.kind,
            rule=trigger.rule.name,
            severity=trigger.rule.severity,
            started_at=ref.captured_at,
            snapshot_jpeg=encode_jpeg(annotated(image, trigger.zone, trigger.box, label)),
            crop_jpeg=encode_jpeg(crop(image, trigger.box)),
            class_name=trigger.class_name,
            confidence=trigger.confidence,
            box=trigger.box,
        )
        alert_id = self._store.add_alert(alert)
        ALERTS.labels(ref.camera_id, trigger.rule.name).inc()
        log.info("alert %d: %s on %s (%s)", alert_id, trigger.rule.name, ref.camera_id, label)
        try:
            self._notices.put_nowait(AlertNotice(alert_id, ref.camera_id, alert.kind))
        except queue.Full:
            log.warning("alert bus full; the dashboard will read alert %d from the store", alert_id)

    def close(self) -> None:
        self._frames.close()


def run_detector(
    plan: DetectorPlan, frames: Queue[FrameRef], notices: Queue[AlertNotice], stop: Event
) -> None:
    """Process entry point."""
    config = plan.site.detector
    store = Store(plan.database)
    core = DetectionCore(plan.site, store, notices, build_detector(plan.site))
    batcher = Batcher(frames, config.max_batch, config.max_wait_ms / 1000, config.stale_after_s)
    log.info("detection core ready (%s)", config.backend)
    try:
        while not stop.is_set():
            batch = batcher.next_batch()
            if batch:
                core.process(batch)
    finally:
        core.close()
        notices.cancel_join_thread()
        store.close()
