"""Live view over WebRTC: the camera's H.264 passed through to the browser, never re-encoded.

One upstream RTSP connection per camera (aiortc's ``MediaPlayer`` with ``decode=False``
hands over the camera's encoded packets) is shared by every viewer of that camera through
a ``MediaRelay``; each viewer has its own peer connection. H.264 is forced on the
transceiver, since passthrough cannot serve another codec. Peers are closed when they
fail or disconnect, an upstream is closed when its last viewer leaves, and everything is
closed at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay

from dashboard.metrics import WEBRTC_VIEWERS

log = logging.getLogger(__name__)
RTSP_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "500000", "probesize": "32768"}


class LiveViewError(ConnectionError):
    """The camera's stream could not be opened for live view."""


class OfferError(ValueError):
    """The browser's offer cannot be served (no H.264 in it)."""


ViewerEnded = Callable[[], None]


@dataclass(slots=True)
class _Upstream:
    player: MediaPlayer
    viewers: dict[RTCPeerConnection, ViewerEnded | None] = field(default_factory=dict)


class LiveRelay:
    """Owns the upstreams and the viewers' peer connections."""

    def __init__(self) -> None:
        self._relay = MediaRelay()
        self._upstreams: dict[str, _Upstream] = {}
        self._lock = asyncio.Lock()

    @property
    def viewer_count(self) -> int:
        return sum(len(upstream.viewers) for upstream in self._upstreams.values())

    async def _upstream(self, camera_id: str, url: str) -> _Upstream:
        upstream = self._upstreams.get(camera_id)
        if upstream is None:
            try:
                player = await asyncio.to_thread(
                    MediaPlayer, url, format="rtsp", options=RTSP_OPTIONS, decode=False
                )
            except Exception as exc:  # FFmpeg raises many kinds; all mean "no stream"
                raise LiveViewError(f"camera {camera_id} cannot be opened for live view") from exc
            if player.video is None:
                raise LiveViewError(f"camera {camera_id} sends no video")
            upstream = self._upstreams[camera_id] = _Upstream(player)
        return upstream

    async def answer(
        self,
        camera_id: str,
        url: str,
        offer: RTCSessionDescription,
        on_end: ViewerEnded | None = None,
    ) -> RTCSessionDescription:
        """Accept a viewer's offer; returns the answer to send back.

        The browser must offer H.264 only (``setCodecPreferences`` on its transceiver):
        the answer then reuses the browser's payload type for it, and the camera's packets
        go out unchanged. An offer without H.264 is refused.
        """
        if "H264/90000" not in offer.sdp:
            raise OfferError("the browser offered no H.264; live view passes H.264 through")
        async with self._lock:
            upstream = await self._upstream(camera_id, url)
            peer = RTCPeerConnection()
            upstream.viewers[peer] = on_end
            WEBRTC_VIEWERS.labels(camera_id).set(len(upstream.viewers))
        assert upstream.player.video is not None
        track = self._relay.subscribe(upstream.player.video, buffered=False)

        @peer.on("connectionstatechange")
        async def on_state() -> None:
            if peer.connectionState in {"failed", "closed", "disconnected"}:
                await self._drop(camera_id, peer)

        await peer.setRemoteDescription(offer)
        peer.addTrack(track)
        await peer.setLocalDescription(await peer.createAnswer())
        log.info("live view of %s: %d viewer(s)", camera_id, len(upstream.viewers))
        return peer.localDescription

    async def _drop(self, camera_id: str, peer: RTCPeerConnection) -> None:
        async with self._lock:
            upstream = self._upstreams.get(camera_id)
            on_end = None
            if upstream is not None and peer in upstream.viewers:
                on_end = upstream.viewers.pop(peer)
                WEBRTC_VIEWERS.labels(camera_id).set(len(upstream.viewers))
                if not upstream.viewers:
                    del self._upstreams[camera_id]
                    _stop_player(upstream.player)
        await peer.close()
        if on_end is not None:
            on_end()

    async def close(self) -> None:
        """Close every peer and upstream (at shutdown)."""
        async with self._lock:
            upstreams, self._upstreams = self._upstreams, {}
        for camera_id, upstream in upstreams.items():
            await asyncio.gather(*(peer.close() for peer in upstream.viewers))
            for on_end in upstream.viewers.values():
                if on_end is not None:
                    on_end()
            WEBRTC_VIEWERS.labels(camera_id).set(0)
            _stop_player(upstream.player)


def _stop_player(player: MediaPlayer) -> None:
    if player.video is not None:
        player.video.stop()
