"""The plate reader of the live core: a thread of its own behind a bounded queue.

The core offers crops of vehicle tracks (:mod:`detect.plates.candidates`) and goes on at once;
this thread reads them (on the analysed frame, or on the recorded main stream's picture of the
same moment for cameras with ``plates.stream: record``), votes each track's reads into one
plate (:class:`~detect.plates.vote.PlateVote`), keeps it in the store (one row per track,
updated as better reads come: :func:`common.plates.save_read`), and checks it against the
watch list. A match raises a critical ``plate_watch`` alert at once, committed before its
notice is sent, like every alert; it ends when the track has had no crop for
``track_idle_s``.

The thread runs at a lower CPU priority (nice +10) than the core, so on a busy machine plate
reads wait and person or intrusion alerts do not; its queue then drops the oldest crops
(:mod:`detect.plates.offer_queue`). Cameras without plates enabled offer nothing and cost
nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from common import plates
from common.alert_rows import LiveAlerts, NewAlert
from common.alert_writer import AlertKind, AlertSink, AlertWriter
from common.channel import Channel
from common.messages import AlertNotice, Severity
from common.plates import NewPlateRead
from common.store import Store
from detect.plates.candidates import PlateOffer
from detect.plates.main_stream import MainStreamFrames
from detect.plates.metrics import (
    CROPS_READ,
    MAIN_FRAMES_DECODED,
    MAIN_PICTURE_SECONDS,
    READ_SECONDS,
    TRACKS_READ,
    WATCH_HITS,
)
from detect.plates.offer_queue import PlateQueue
from detect.plates.reader import PlateReader
from detect.plates.vote import PlateVote, TrackPlate
from detect.plates.watch import WatchList
from detect.snapshots import Box, Image, annotated, crop, encode_jpeg

log = logging.getLogger(__name__)

NICE = 10
WATCH_POLL_S = 1.0
"""How often the watch list is checked for changes (a cheap count in the store)."""
CROP_MARGIN = 0.1
MAIN_CROP_MARGIN = 0.2
"""The main stream's picture of a moment is not exactly the analysed one (the streams are
encoded apart): a wider crop keeps the plate inside it."""


@dataclass(slots=True)
class _Track:
    """What the reader knows of one vehicle track."""

    camera_id: str
    track_id: int
    class_name: str
    first_at: float
    vote: PlateVote = field(default_factory=PlateVote)
    last_offer: float = 0.0
    read_id: int | None = None
    stored: TrackPlate | None = None
    watch_alerts: dict[str, int] = field(default_factory=dict)
    """Watch-list entry -> the alert it raised for this track."""


class PlateWorker:
    """Reads the plates of the offers of the cameras in ``streams`` (camera id -> ``detect``
    or ``record``) into ``store``; announces watch-list alerts on ``notices``.

    A re-analysis job uses it too, without the thread: it calls :meth:`handle` and
    :meth:`expire` with the footage's times, its reads carry its ``job_id`` and its watch-list
    hits go to its findings (``alerts``), out of the live metrics.
    """

    def __init__(
        self,
        store: Store,
        notices: Channel[AlertNotice] | None,
        streams: Mapping[str, str],
        *,
        main: MainStreamFrames | None = None,
        reader: Callable[[], PlateReader] = PlateReader,
        queue_size: int = 16,
        track_idle_s: float = 30.0,
        alerts: AlertSink | None = None,
        job_id: int | None = None,
    ) -> None:
        self.queue = PlateQueue(queue_size)
        self._store = store
        self._alerts = AlertWriter(alerts or LiveAlerts(store), notices)
        self._job_id = job_id
        self._streams = dict(streams)
        self._main = main
        self._make_reader = reader
        self._reader: PlateReader | None = None
        self._track_idle_s = track_idle_s
        self._tracks: dict[tuple[str, int], _Track] = {}
        self._watch = WatchList(())
        self._watch_version: tuple[int, int] | None = None
        self._watch_checked = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="plate-reader", daemon=True)
        self._thread.start()

    def offer(self, offer: PlateOffer) -> None:
        """Queue a crop to read (never blocks; a full queue drops its oldest)."""
        self.queue.put(offer)

    def stop(self, timeout: float = 5.0, at: float | None = None) -> None:
        """Stop reading, and end the watch-list alerts still open (as of ``at``, else now)."""
        self._stop.set()
        self.queue.close()
        if self._thread is not None:
            self._thread.join(timeout)
        for track in list(self._tracks.values()):
            self._end_alerts(track, time.time() if at is None else at)
        self._tracks.clear()

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # below the core: its alerts come first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        while not self._stop.is_set():
            offer = self.queue.get(timeout=0.5)
            try:
                self.refresh_watch_list()
                if offer is not None:
                    self.handle(offer)
                self.expire(time.time())
            except Exception:  # a bad picture must not end plate reading for good
                log.exception("plate reading failed; going on with the next crop")

    def refresh_watch_list(self, force: bool = False) -> None:
        """Reload the watch list when it changed (checked every :data:`WATCH_POLL_S`)."""
        now = time.monotonic()
        if not force and now - self._watch_checked < WATCH_POLL_S:
            return
        self._watch_checked = now
        version = plates.watch_version(self._store)
        if force or version != self._watch_version:
            self._watch = WatchList(entry.pattern for entry in plates.watch_entries(self._store))
            self._watch_version = version

    def handle(self, offer: PlateOffer) -> TrackPlate | None:
        """Read one offer, vote, store and check the watch list; returns the track's plate."""
        key = (offer.camera_id, offer.track_id)
        track = self._tracks.get(key)
        if track is None:
            track = _Track(offer.camera_id, offer.track_id, offer.class_name, offer.at)
            self._tracks[key] = track
        track.last_offer = offer.at
        picture, source = self._picture(offer)
        reader = self._reader = self._reader or self._make_reader()
        started = time.perf_counter()
        read = reader.read(picture)
        if self._job_id is None:
            READ_SECONDS.observe(time.perf_counter() - started)
            CROPS_READ.labels(offer.camera_id, "read" if read is not None else "none").inc()
        track.vote.add(read)
        result = track.vote.result()
        if result is not None:
            self._keep(track, offer, result, source)
        return result

    def _picture(self, offer: PlateOffer) -> tuple[Image, str]:
        """The crop to read: from the main stream's picture of the moment when the camera
        asks for it and one is recorded, else from the analysed frame."""
        if self._streams.get(offer.camera_id) == "record" and self._main is not None:
            started = time.perf_counter()
            main = self._main.frame_at(offer.camera_id, offer.at)
            MAIN_PICTURE_SECONDS.observe(time.perf_counter() - started)
            if main is not None:
                MAIN_FRAMES_DECODED.labels(offer.camera_id).inc(main.decoded)
                box = _scaled(offer.box, offer.image, main.image)
                return crop(main.image, box, MAIN_CROP_MARGIN), "record"
            CROPS_READ.labels(offer.camera_id, "main_missing").inc()
        return crop(offer.image, offer.box, CROP_MARGIN), "detect"

    def _keep(self, track: _Track, offer: PlateOffer, result: TrackPlate, source: str) -> None:
        if track.stored is not None and _same(track.stored, result):
            return
        if track.read_id is None and self._job_id is None:
            TRACKS_READ.labels(track.camera_id).inc()
        new = NewPlateRead(
            camera_id=track.camera_id,
            track_id=track.track_id,
            class_name=offer.class_name,
            plate=result.text,
            confidence=result.confidence,
            agreeing=result.agreeing,
            crops=result.crops,
            first_at=track.first_at,
            at=offer.at,
            source=source,
            crop_jpeg=encode_jpeg(result.crop),
            job_id=self._job_id,
        )
        track.read_id = plates.save_read(self._store, new, track.read_id)
        track.stored = result
        hit = self._watch.hit(result.text)
        if hit is not None and hit.entry not in track.watch_alerts:
            alert_id = self._raise(track, offer, result, hit.entry)
            track.watch_alerts[hit.entry] = alert_id
            plates.mark_watch_hit(self._store, track.read_id, hit.entry, alert_id)
            if self._job_id is None:
                WATCH_HITS.labels(track.camera_id).inc()

    def _raise(self, track: _Track, offer: PlateOffer, result: TrackPlate, entry: str) -> int:
        label = f"{result.text} ({entry})"
        alert = NewAlert(
            camera_id=track.camera_id,
            kind=AlertKind.PLATE_WATCH,
            rule=entry,
            severity=Severity.CRITICAL,
            started_at=offer.at,
            triggered_at=offer.at,
            snapshot_jpeg=encode_jpeg(annotated(offer.image, (), [(offer.box, label)])),
            crop_jpeg=encode_jpeg(result.crop),
            class_name=offer.class_name,
            track_id=track.track_id,
            confidence=result.confidence,
            box=offer.box,
        )
        alert_id = self._alerts.open(alert)
        log.info("alert %d: watch-list plate %s on %s", alert_id, label, track.camera_id)
        return alert_id

    def expire(self, now: float) -> None:
        """Forget tracks with no crop for ``track_idle_s``, ending their watch alerts."""
        for key, track in list(self._tracks.items()):
            if now - track.last_offer > self._track_idle_s:
                self._end_alerts(track, now)
                del self._tracks[key]

    def _end_alerts(self, track: _Track, at: float) -> None:
        for alert_id in track.watch_alerts.values():
            self._alerts.end(alert_id, track.camera_id, AlertKind.PLATE_WATCH, at)
        track.watch_alerts.clear()


def _same(stored: TrackPlate, result: TrackPlate) -> bool:
    """Whether the vote says what the store holds already (the picture aside)."""
    return (stored.text, stored.confidence, stored.agreeing, stored.crops) == (
        result.text,
        result.confidence,
        result.agreeing,
        result.crops,
    )


def _scaled(box: Box, analysed: Image, main: Image) -> Box:
    """``box`` of the analysed frame in the main picture's pixels."""
    sx = main.shape[1] / analysed.shape[1]
    sy = main.shape[0] / analysed.shape[0]
    x1, y1, x2, y2 = box
    return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)
