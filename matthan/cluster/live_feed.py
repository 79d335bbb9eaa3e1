"""A node's side of live view on a site of several machines: it sends the station the
cameras it holds, live, while the station wants them.

The station cannot read a node's frames (they never leave it) and need not reach the
cameras: when an operator opens a camera live, the station asks for it
(:mod:`matthan.cluster.live_wire`), and the node that holds the camera opens the camera's
stream and passes its encoded packets on as they come, not decoded, not encoded (the same
passthrough as the station's own live view). While it sends a camera it also sets that
camera's "watched" flag, so its detection core sends the tracked boxes, which go on to the
station for the page to draw. A camera nobody wants for :data:`WANT_LASTS_S`, or that the
node no longer holds, stops.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from fractions import Fraction

import av
import av.error
import nats.errors
from nats.aio.msg import Msg

from common.channel import ChannelClosedError
from common.config import CameraConfig, SiteConfig
from common.credentials import MissingCredentialsError, url_with_login
from common.live_wire import (
    WANT_LASTS_S,
    WANT_ROOT,
    PacketTiming,
    boxes_subject,
    encode_boxes,
    video_subject,
)
from common.watching import DetectionsChannel
from matthan.cluster.client import NatsClient

log = logging.getLogger(__name__)

RTSP_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "500000", "probesize": "32768"}
PUBLISH_TIMEOUT_S = 2.0


class LiveFeeds:
    """Every camera this node sends live now, and the boxes of those cameras."""

    def __init__(
        self,
        client: NatsClient,
        site: SiteConfig,
        held: Callable[[], frozenset[str]],
        overlay: Callable[[], DetectionsChannel | None],
        *,
        node: str = "node",
    ) -> None:
        self.client = client
        self.node = node
        self.site = site
        self.site_id = site.cluster.site_id
        self.held = held
        self._overlay = overlay
        self._cameras = {camera.id: camera for camera in site.cameras}
        self._feeds: dict[str, _Feed] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._boxes = threading.Thread(target=self._relay_boxes, name="live-boxes", daemon=True)

    def start(self) -> LiveFeeds:
        async def wanted(message: Msg) -> None:
            self.want(message.subject.rsplit(".", 1)[-1])

        self.client.run(self.client.nc.subscribe(f"{WANT_ROOT}.{self.site_id}.*", cb=wanted))
        self._boxes.start()
        return self

    def want(self, camera_id: str) -> None:
        """The station wants ``camera_id``: send it (or keep sending) if this node holds it."""
        camera = self._cameras.get(camera_id)
        if camera is None or camera_id not in self.held():
            return
        with self._lock:
            feed = self._feeds.get(camera_id)
            if feed is not None and feed.alive:
                feed.renew()
                return
            feed = self._feeds[camera_id] = _Feed(self, camera)
        feed.start()

    def sending(self) -> list[str]:
        with self._lock:
            return sorted(camera for camera, feed in self._feeds.items() if feed.alive)

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            feeds = list(self._feeds.values())
        for feed in feeds:
            feed.join()
        self._boxes.join(5.0)

    def set_watched(self, camera_id: str, watched: bool) -> None:
        overlay = self._overlay()
        if overlay is not None:
            overlay.watched.set(camera_id, watched)

    def _relay_boxes(self) -> None:
        """The detection core's boxes of the cameras sent live, on to the station."""
        while not self.stopping.is_set():
            overlay = self._overlay()
            if overlay is None:
                self.stopping.wait(0.5)
                continue
            for camera_id in self.sending():  # the roles' flags are new after a restart
                overlay.watched.set(camera_id, True)
            try:
                frame = overlay.boxes.receive(timeout=0.5)
            except ChannelClosedError:  # the channel of roles that stopped
                self.stopping.wait(0.5)
                continue
            if frame is None:
                continue
            subject = boxes_subject(self.site_id, frame.camera_id)
            try:
                self.client.run(
                    self.client.nc.publish(subject, encode_boxes(frame)), PUBLISH_TIMEOUT_S
                )
            except (TimeoutError, nats.errors.Error) as exc:  # best effort, never fatal
                log.debug("live boxes of %s not sent: %s", frame.camera_id, exc)


class _Feed:
    """One camera sent live: its stream read in a thread until nobody wants it."""

    def __init__(self, feeds: LiveFeeds, camera: CameraConfig) -> None:
        self._feeds = feeds
        self.camera = camera
        self._wanted_until = time.monotonic() + WANT_LASTS_S
        self._thread = threading.Thread(target=self._run, name=f"live-{camera.id}", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() or not self._thread.ident

    def renew(self) -> None:
        self._wanted_until = time.monotonic() + WANT_LASTS_S

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        if self._thread.ident:
            self._thread.join(15.0)

    def _wanted(self) -> bool:
        feeds = self._feeds
        return (
            not feeds.stopping.is_set()
            and time.monotonic() < self._wanted_until
            and self.camera.id in feeds.held()
        )

    def _run(self) -> None:
        camera, feeds = self.camera, self._feeds
        login = camera.credentials
        try:
            url = url_with_login(
                camera.detect_url,
                login.username_env if login else None,
                login.password_env if login else None,
            )
        except MissingCredentialsError as exc:
            log.warning("live view of %s: %s", camera.id, exc)
            return
        subject = video_subject(feeds.site_id, camera.id)
        client = feeds.client
        ingest = feeds.site.ingest
        log.info("live view of %s: sending it to the station", camera.id)
        feeds.set_watched(camera.id, True)
        sent = 0
        try:
            with av.open(
                url,
                format="rtsp",
                options=RTSP_OPTIONS,
                timeout=(ingest.open_timeout_s, ingest.read_timeout_s),
            ) as container:
                video = container.streams.video[0]
                source = f"{feeds.node}/{uuid.uuid4().hex[:8]}"  # this opening's times
                for packet in container.demux(video):
                    if not self._wanted():
                        break
                    if packet.pts is None or packet.size == 0:
                        continue
                    timing = PacketTiming(
                        packet.pts,
                        packet.time_base or Fraction(1, 90000),
                        packet.is_keyframe,
                        source,
                    )
                    client.run(
                        client.nc.publish(subject, bytes(packet), headers=timing.headers()),
                        PUBLISH_TIMEOUT_S,
                    )
                    sent += 1
        except (av.error.FFmpegError, OSError, IndexError, TimeoutError) as exc:
            log.warning("live view of %s: the camera's stream: %s", camera.id, exc)
        finally:
            feeds.set_watched(camera.id, False)
            log.info("live view of %s: stopped after %d packets", camera.id, sent)
