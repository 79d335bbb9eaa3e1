"""The detection core process: fair batches from every camera -> model -> tracker -> rules.

Per analysed frame: the camera's planner decides where the model looks (the whole frame, the
regions where something moves or a track is due, or nowhere: :mod:`detect.looks`); the looks of a
batch of cameras go through the model together (:mod:`detect.looker`), with up to
``detector.in_flight`` batches in inference while the next is prepared
(:mod:`detect.inference`); then, camera by camera and in capture order, the detections go
through that camera's tracker (:mod:`detect.tracking`), the tracked ones through its rules
(:mod:`detect.rules`), and the rules' events become alerts (:mod:`detect.alerts`).
The loop beats the ``detect`` heartbeat, which the supervisor watches to end its
"analysis down" alert after a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from common.alert_rows import LiveAlerts
from common.channel import Channel
from common.config import CameraConfig, SiteConfig
from common.frame_ring import Frame
from common.heartbeat import Heartbeat, heartbeat_ages
from common.messages import AlertNotice, FrameRef
from common.paths import resolve_model
from common.roles import DETECT_ROLE
from common.store import Store
from common.store_retry import UNTIL_COMMITTED
from common.watching import DetectionsChannel
from detect.alerts import AlertKeeper, AnalysedFrame
from detect.backends.factory import create_backend
from detect.batcher import Batcher
from detect.detections import Detections
from detect.detector import Detector, class_ids_for
from detect.frames import PendingFrame
from detect.inference import Completed, InferenceQueue
from detect.looker import FrameLook, Looker, ModelBatch
from detect.looks import FRAME_LOOK, Look, LookKind, LookPlanner
from detect.metrics import (
    BATCH_SIZE,
    DETECTIONS,
    FRAME_AGE_SECONDS,
    FRAMES_ANALYSED,
    HELD_TRACKS,
    INFERENCE_SECONDS,
    LOOKS,
    MODEL_IMAGES,
    MODEL_PIXELS,
)
from detect.overlay import OverlayPublisher
from detect.plates.candidates import VEHICLES, PlateCandidates, PlateOffer
from detect.plates.main_stream import MainStreamFrames
from detect.plates.worker import PlateWorker
from detect.region_merge import concat
from detect.rules import CameraRules
from detect.sighting_keeper import SightingKeeper
from detect.sightings import BestSightings, EndedTrack
from detect.track_book import TrackBook
from detect.tracking import TRACKING_FLOOR, CameraTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DetectorPlan:
    """What the detection process is started with."""

    site: SiteConfig
    database: Path
    rings: tuple[str, ...] = ()
    """The names of the ingest shards' frame rings (:mod:`common.frame_ring`)."""


def build_detector(site: SiteConfig, threads: int | None = None) -> Detector:
    """The model the site asks for, restricted to the classes its rules use.

    Its score floor is :data:`detect.tracking.TRACKING_FLOOR` (or the site's ``confidence`` if
    lower): the tracker wants the weak boxes too; the site's threshold applies after tracking.
    ``threads`` overrides ``detector.threads`` (the re-analysis runner has its own). Its input is
    ``region_size`` in regions mode (every crop is a square of it), else ``input_size``.
    """
    config = site.detector
    backend = create_backend(
        config.backend, resolve_model(config.model), threads or config.threads, config.in_flight
    )
    wanted = {name for camera in site.cameras for rule in camera.rules for name in rule.classes}
    if any(camera.plates.enabled for camera in site.cameras):
        wanted.update(VEHICLES)
    return Detector(
        backend,
        imgsz=config.region_size if config.mode == "regions" else config.input_size,
        confidence=min(TRACKING_FLOOR, config.confidence),
        iou=config.iou,
        classes=class_ids_for(wanted, backend.class_names) if wanted else None,
    )


class CameraAnalysis:
    """What follows one camera from frame to frame: where to look, its tracker, rules and best
    sightings.

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
        plates: Callable[[PlateOffer], None] | None = None,
        on_ended: Callable[[EndedTrack], None] | None = None,
    ) -> None:
        self.camera_id = camera.id
        self.tracker = CameraTracker(site.analysis_fps(camera), site.detector.confidence)
        self.rules = CameraRules(camera, class_names, ZoneInfo(site.site.timezone), live=live)
        self.sightings = BestSightings(on_ended)
        self.book = TrackBook()
        self.planner = LookPlanner(site.detector)
        self._confidence = site.detector.confidence
        self._live = live
        self._plates = plates
        self._plate_candidates = (
            PlateCandidates(camera.id, class_names)
            if plates is not None and camera.plates.enabled
            else None
        )

    def plan(self, ref: FrameRef) -> Look:
        """Where the model looks in the frame behind ``ref`` (:mod:`detect.looks`)."""
        look = self.planner.plan(ref, self.book)
        if self._live:
            LOOKS.labels(self.camera_id, look.kind.value).inc()
        return look

    def analyse(
        self,
        image: Frame,
        detections: Detections,
        t: float,
        alerts: AlertKeeper,
        look: Look = FRAME_LOOK,
    ) -> Detections:
        """Track one frame's detections (taken at ``t``, found by ``look``), apply the rules,
        hand their events to ``alerts``; returns the tracked detections the rules saw.

        Tracks outside the regions of a regions look are held where they were last seen."""
        regions = list(look.regions)
        frame_look = look.kind == LookKind.FRAME
        held = Detections.empty() if frame_look else self.book.held(regions, detections)
        if self._live and len(held):
            HELD_TRACKS.inc(len(held))
        tracked, rows = self.tracker.track(concat([detections, held]), t)
        seen = rows < len(detections)
        untracked = np.ones(len(detections), np.bool_)
        untracked[rows[seen]] = False
        self.book.note_candidates(
            detections.xyxy[untracked & (detections.confidence >= self._confidence)]
        )
        self.book.observe(tracked, seen, None if frame_look else regions, t)
        self.sightings.note(image, tracked.filter(seen), t)
        if self._plate_candidates is not None and self._plates is not None:
            for offer in self._plate_candidates.offers(image, tracked.filter(seen), t):
                self._plates(offer)
        height, width = image.shape[:2]
        events = self.rules.evaluate(tracked, width, height, t, seen)
        alerts.handle(AnalysedFrame(self.camera_id, image, tracked, self.sightings), events)
        return tracked


@dataclass(slots=True, eq=False)
class _CoreLook(FrameLook):
    """A frame of the live core on its way through the model."""

    frame: PendingFrame | None = None
    done: bool = False
    """Its detections are complete (follow-up included)."""


class DetectionCore:
    """Runs frames through the model, the trackers and the rules.

    :meth:`submit` plans each frame's look and starts its batches; with an
    :class:`~detect.inference.InferenceQueue` of several requests, the next batch is prepared
    while earlier ones run, and :meth:`poll` / :meth:`wait` collect what finished. Frames are
    analysed in the order they were submitted, whichever batch finishes first, so every
    camera's tracker gets its frames in capture order even when two of them are in the model at
    once (the second was planned before the first was tracked: its look uses tracks one frame
    old, moved on by their velocity). :meth:`process` does all of it synchronously.

    With an ``overlay`` channel, each frame's tracked boxes also go to the dashboard, for the
    cameras watched live (:mod:`detect.overlay`). ``on_moving(camera, captured_at)`` is called
    for each analysed frame with a moving or not yet confirmed track (ingest keeps such a camera
    fully decoded). ``plates`` takes the crops of vehicle tracks worth a plate read, of the
    cameras with ``plates.enabled`` (:mod:`detect.plates.worker`); it must not block. A
    ``keeper`` keeps the best sighting of every ended track for investigation search.
    """

    def __init__(
        self,
        site: SiteConfig,
        store: Store,
        notices: Channel[AlertNotice] | None,
        detector: Detector,
        *,
        overlay: DetectionsChannel | None = None,
        inference: InferenceQueue[ModelBatch] | None = None,
        on_moving: Callable[[str, float], None] | None = None,
        plates: Callable[[PlateOffer], None] | None = None,
        keeper: SightingKeeper | None = None,
    ) -> None:
        self._detector = detector
        self._on_moving = on_moving
        self._looker = Looker(detector, site.detector.region_size)
        self._inference = inference
        self._confidence = site.detector.confidence
        names = detector.class_names
        self._cameras = {
            cam.id: CameraAnalysis(
                site, cam, names, plates=plates, on_ended=_keeping(keeper, cam.id)
            )
            for cam in site.cameras
        }
        self.alerts = AlertKeeper(LiveAlerts(store), notices, names)
        self._overlay = OverlayPublisher(overlay, names) if overlay is not None else None
        self._order: deque[_CoreLook] = deque()
        """Frames submitted and not yet analysed, in submission order."""

    def end_tracks(self) -> None:
        """Every live track ends (the core stops): their sightings are kept."""
        for camera in self._cameras.values():
            camera.sightings.end_all()

    def camera(self, camera_id: str) -> CameraAnalysis:
        """The tracker, rules and sightings of one camera."""
        return self._cameras[camera_id]

    def process(self, batch: list[PendingFrame]) -> None:
        """Look at one batch of frames and act on what the rules say, before returning."""
        self.submit(batch)
        self.wait()

    def submit(self, batch: list[PendingFrame]) -> None:
        """Plan each frame's look and start the model batches."""
        looks: list[_CoreLook] = []
        for frame in batch:
            camera = self._cameras[frame.ref.camera_id]
            work = _CoreLook(frame.image, camera.plan(frame.ref), frame=frame)
            work.done = not work.look.infers
            self._order.append(work)
            if not work.done:
                looks.append(work)
        for model_batch in self._looker.pack(looks):
            self._start(model_batch)
        self._finish_ready()

    def poll(self) -> None:
        """Act on the batches that finished, without waiting."""
        if self._inference is not None:
            self._collect(self._inference.poll())

    def wait_one(self) -> None:
        """Wait for the oldest batch in the model and act on it (and on any finished after it)."""
        if self._inference is not None and self._inference.busy:
            self._collect(self._inference.wait_oldest())

    def wait(self) -> None:
        """Wait for every batch in the model (follow-ups included) and act on them."""
        while self._inference is not None and self._inference.busy:
            self._collect(self._inference.drain())

    def _start(self, batch: ModelBatch, kind: str | None = None) -> None:
        kind = kind or ("crop" if batch.parts[0].region is not None else "frame")
        MODEL_IMAGES.labels(kind).inc(len(batch))
        MODEL_PIXELS.inc(batch.tensor.shape[0] * batch.tensor.shape[2] * batch.tensor.shape[3])
        BATCH_SIZE.observe(len(batch))
        if self._inference is None:
            started = time.perf_counter()
            output = self._detector.infer(batch.tensor)
            INFERENCE_SECONDS.observe(time.perf_counter() - started)
            self._unpack(batch, output)
        else:
            self._collect(self._inference.submit(batch.tensor, batch))

    def _collect(self, completed: list[Completed[ModelBatch]]) -> None:
        for done in completed:
            INFERENCE_SECONDS.observe(done.seconds)
            self._unpack(done.token, done.output)

    def _unpack(self, batch: ModelBatch, output: npt.NDArray[np.float32]) -> None:
        for look in self._looker.unpack(batch, output):
            assert isinstance(look, _CoreLook)
            regions = look.follow_up(self._detector.iou)
            if regions:
                self._start(self._looker.pack_regions(look, regions), "follow_up")
            else:
                look.done = True
        self._finish_ready()

    def _finish_ready(self) -> None:
        """Analyse the complete frames at the head of the submission order: a camera's frames
        reach its tracker in the order they came, whichever batch finished first."""
        while self._order and self._order[0].done:
            self._finish(self._order.popleft())

    def _finish(self, work: _CoreLook) -> None:
        frame = work.frame
        assert frame is not None
        detections = work.result(self._detector.iou)[0] if work.look.infers else Detections.empty()
        FRAME_AGE_SECONDS.observe(time.time() - frame.ref.captured_at)
        FRAMES_ANALYSED.labels(frame.ref.camera_id).inc()
        self._count(detections)
        self.analyse(frame.ref, frame.image, detections, work.look)

    def analyse(
        self, ref: FrameRef, image: Frame, detections: Detections, look: Look = FRAME_LOOK
    ) -> None:
        """Track one frame's detections and apply the camera's rules."""
        camera = self._cameras[ref.camera_id]
        tracked = camera.analyse(image, detections, ref.captured_at, self.alerts, look)
        if self._on_moving is not None and camera.book.anything_moving():
            self._on_moving(ref.camera_id, ref.captured_at)
        if self._overlay is not None:
            self._overlay.publish(ref, tracked)

    def _count(self, detections: Detections) -> None:
        names = self._detector.class_names
        confident = detections.class_id[detections.confidence >= self._confidence]
        for class_id in confident.tolist():
            DETECTIONS.labels(names[class_id]).inc()


def run_detector(
    plan: DetectorPlan,
    notices: Channel[AlertNotice],
    overlay: DetectionsChannel | None,
    stop: threading.Event,
) -> None:
    """Process entry point: analyse the newest frames of the rings of ``plan`` until ``stop``.

    The store is opened to retry its writes until they commit: while another connection
    holds it, an alert waits (and the core with it; stale frames are dropped and counted)
    instead of being lost or ending the core, and a beat that cannot be written is skipped
    (:mod:`common.heartbeat`; the supervisor allows for that, :mod:`matthan.analysis_watch`).
    """
    site, config = plan.site, plan.site.detector
    store = Store(plan.database, retry=UNTIL_COMMITTED)
    _end_orphans(store)
    heartbeat = Heartbeat(store, DETECT_ROLE)
    detector = build_detector(site)
    inference: InferenceQueue[ModelBatch] = InferenceQueue(detector.backend, config.in_flight)
    priorities = {camera.id: camera.priority for camera in site.cameras if camera.enabled}
    batcher = Batcher(
        plan.rings, priorities, config.max_batch, config.max_wait_ms / 1000, config.stale_after_s
    )
    plate_worker = start_plate_worker(site, store, notices)
    keeper = SightingKeeper(store, {c.id: c for c in site.cameras}, detector.class_names)
    keeper.start()
    core = DetectionCore(
        site,
        store,
        notices,
        detector,
        overlay=overlay,
        inference=inference,
        on_moving=batcher.frames.note_moving_track,
        plates=plate_worker.offer if plate_worker is not None else None,
        keeper=keeper,
    )
    log.info(
        "detection core ready (%s, %s mode, %d in flight, %d cameras)",
        config.backend,
        config.mode,
        config.in_flight,
        len(priorities),
    )
    try:
        while not stop.is_set():
            heartbeat.maybe_beat("degraded" if batcher.load.degraded else "ok")
            _step(core, batcher, inference)
            batcher.publish_load()
    finally:
        inference.close()
        batcher.close()
        if plate_worker is not None:
            plate_worker.stop()
        core.end_tracks()
        keeper.stop()
        core.alerts.end_all(time.time())
        notices.close()
        if overlay is not None:
            overlay.boxes.close()
        store.close()


def _keeping(keeper: SightingKeeper | None, camera_id: str) -> Callable[[EndedTrack], None] | None:
    """Where the camera's ended tracks go: to ``keeper``, under the camera's id."""
    if keeper is None:
        return None
    return lambda ended: keeper.keep(camera_id, ended)


def start_plate_worker(
    site: SiteConfig, store: Store, notices: Channel[AlertNotice] | None
) -> PlateWorker | None:
    """The plate reader thread, when a camera reads plates (None otherwise: no cost)."""
    streams = {c.id: c.plates.stream for c in site.cameras if c.enabled and c.plates.enabled}
    if not streams:
        return None
    main = MainStreamFrames(site.recording.path) if "record" in streams.values() else None
    worker = PlateWorker(store, notices, streams, main=main)
    worker.start()
    log.info("plate reading on %d camera(s)", len(streams))
    return worker


def _step(core: DetectionCore, batcher: Batcher, inference: InferenceQueue[ModelBatch]) -> None:
    """Start the next batch while earlier ones run; wait for the model only when it is full or
    nothing else can be started."""
    if inference.busy >= inference.in_flight:
        core.wait_one()
    batch = batcher.next_batch(0.01 if inference.busy else 0.5)
    if batch:
        core.submit(batch)
    elif inference.busy:
        core.wait_one()
    core.poll()


def _end_orphans(store: Store) -> None:
    """End the alerts a previous core left open, as of its last heartbeat."""
    age = heartbeat_ages(store).get(DETECT_ROLE)
    ended = AlertKeeper.end_orphans(store, time.time() - (age or 0.0))
    if ended:
        log.info("ended %d alert(s) left open by the previous detection core", ended)
