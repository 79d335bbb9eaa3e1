"""Live view at the station of a site over several machines: the camera's video comes from the
analysis node that holds it, not from the camera.

The station asks for the camera on the site's NATS (``matthan.live.want.<site>.<camera>``, again
every :data:`WANT_EVERY_S` while anybody watches); the node that holds it sends the camera's
encoded packets as they come (:mod:`matthan.cluster.live_feed`), and this module turns them
back into a track that the :class:`~dashboard.services.live.LiveRelay` passes on to every
viewer unchanged, exactly as it passes on a camera's own stream on one machine. The node also
sends the tracked boxes of the camera while it sends its video, and they reach the pages'
detections sockets as the local detection core's do. A camera that moves to another node
(failover) goes on: the want reaches whoever holds it now.

Imported only on a station (``cluster.enabled``): a single machine never loads NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
import nats
import nats.errors
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from common.config import SiteConfig
from common.live_wire import (
    BOXES_ROOT,
    WANT_EVERY_S,
    PacketTiming,
    decode_boxes,
    video_subject,
    want_subject,
)
from common.messages import FrameDetections
from common.tls_files import site_tls
from dashboard.services.live import LiveViewError

log = logging.getLogger(__name__)

QUEUE_PACKETS = 120
"""Packets waiting for the relay (a few seconds of video); past it the oldest go."""
SWITCH_GAP = Fraction(1, 25)
"""Between the last packet of one node and the first of the next: one frame at 25 fps."""


class NodeVideoTrack(MediaStreamTrack):
    """A camera's encoded video as a node sends it: each :meth:`recv` is one ``av.Packet``."""

    kind = "video"

    def __init__(self, camera_id: str, on_stop: Callable[[], None]) -> None:
        super().__init__()
        self.camera_id = camera_id
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(QUEUE_PACKETS)
        self._owner_loop = asyncio.get_running_loop()
        self._on_stop = on_stop
        self._source: str | None = None
        """The opening of the camera's stream followed now (:attr:`PacketTiming.source`)."""
        self._retired: set[str] = set()
        self._time_base = Fraction(1, 90000)
        self._offset = 0
        """Added to the followed source's times (in :attr:`_time_base`) so that they go on
        from the last packet passed, whoever sent it."""
        self._last: int | None = None
        self.first_packet = asyncio.Event()

    def put(self, data: bytes, timing: PacketTiming) -> None:
        """One packet from the node (on the event loop).

        The track follows one opening of the camera's stream at a time. Until its first
        keyframe nothing is kept (a decoder can start on nothing else); after a failover the
        new node's opening is followed from its first keyframe on, its times shifted to go on
        from the last packet passed (they start anew), and the old one's late packets are
        dropped, so the viewer's decoder sees one stream whose clock does not jump back."""
        if timing.source != self._source:
            if timing.source in self._retired or not timing.keyframe:
                return
            self._follow(timing)
        pts = self._offset + round(timing.pts * timing.time_base / self._time_base)
        self._last = pts if self._last is None else max(self._last, pts)
        packet = av.Packet(data)
        packet.pts = pts
        packet.dts = pts
        packet.time_base = self._time_base
        packet.is_keyframe = timing.keyframe  # as the camera's own demuxed packets are
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(packet)
        self.first_packet.set()

    def _follow(self, timing: PacketTiming) -> None:
        """Follow the opening that sent ``timing`` (a keyframe) from now on."""
        if self._source is None:
            self._time_base = timing.time_base
        else:
            self._retired.add(self._source)
            log.info("live view of %s: another node sends it now", self.camera_id)
        self._source = timing.source
        if self._last is not None:
            step = max(1, round(SWITCH_GAP / self._time_base))
            start = round(timing.pts * timing.time_base / self._time_base)
            self._offset = self._last + step - start

    async def recv(self) -> av.Packet[Any]:  # aiortc passes a packet on, not decoded
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        """End the track (from any thread): no more wants, no more packets."""
        if self.readyState == "ended":
            return
        super().stop()

        def finish() -> None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)
            self._on_stop()

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._owner_loop:
            finish()
        elif not self._owner_loop.is_closed():
            self._owner_loop.call_soon_threadsafe(finish)


class NodeLivePlayer:
    """What :class:`~dashboard.services.live.LiveRelay` holds per camera: a video track
    (no audio), as aiortc's ``MediaPlayer`` has."""

    def __init__(self, video: NodeVideoTrack) -> None:
        self.video: NodeVideoTrack | None = video
        self.audio: MediaStreamTrack | None = None


class NodeLive:
    """The station dashboard's link to the nodes for live view (one NATS connection, made at
    the first live view and kept)."""

    def __init__(
        self, site: SiteConfig, token: str, boxes: Callable[[FrameDetections], None]
    ) -> None:
        self._site_id = site.cluster.site_id
        self._url = site.cluster.url
        self._tls = site_tls(site.cluster)
        self._token = token
        self._boxes = boxes
        self._nc: Client | None = None
        self._connecting = asyncio.Lock()

    async def _client(self) -> Client:
        async with self._connecting:
            if self._nc is None or self._nc.is_closed:
                try:
                    nc = await nats.connect(
                        self._url,
                        token=self._token,
                        name="station-live",
                        tls=self._tls,
                        connect_timeout=2,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.5,
                    )
                except (nats.errors.Error, OSError, TimeoutError) as exc:
                    raise LiveViewError(f"the site's NATS server does not answer: {exc}") from exc

                async def boxes(message: Msg) -> None:
                    try:
                        frame = decode_boxes(message.data)
                    except (ValueError, KeyError, TypeError):
                        return
                    self._boxes(frame)

                await nc.subscribe(f"{BOXES_ROOT}.{self._site_id}.*", cb=boxes)
                self._nc = nc
            return self._nc

    async def open(self, camera_id: str, timeout_s: float) -> NodeLivePlayer:
        """The camera's video from the node that holds it; :class:`LiveViewError` when no
        node sends a keyframe of it within ``timeout_s``."""
        nc = await self._client()
        wants: asyncio.Task[None] | None = None
        subscription: Subscription | None = None

        def stopped() -> None:
            if wants is not None:
                wants.cancel()
            if subscription is not None:
                asyncio.get_running_loop().create_task(_unsubscribe(subscription))

        track = NodeVideoTrack(camera_id, stopped)

        async def packet(message: Msg) -> None:
            try:
                timing = PacketTiming.of(message.headers)
            except (ValueError, KeyError):
                return
            track.put(message.data, timing)

        subscription = await nc.subscribe(video_subject(self._site_id, camera_id), cb=packet)
        wants = asyncio.get_running_loop().create_task(self._want(nc, camera_id))
        try:
            await asyncio.wait_for(track.first_packet.wait(), timeout_s)
        except TimeoutError:
            track.stop()
            raise LiveViewError(f"no analysis node sends camera {camera_id} live") from None
        return NodeLivePlayer(track)

    async def _want(self, nc: Client, camera_id: str) -> None:
        subject = want_subject(self._site_id, camera_id)
        while True:
            with contextlib.suppress(nats.errors.Error):
                await nc.publish(subject, b"")
            await asyncio.sleep(WANT_EVERY_S)

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await nc.close()


async def _unsubscribe(subscription: Subscription) -> None:
    with contextlib.suppress(nats.errors.Error):
        await subscription.unsubscribe()
