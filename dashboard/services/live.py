"""Live view over WebRTC: the camera's H.264 passed through to the browser, never re-encoded.

One upstream RTSP connection per camera (aiortc's ``MediaPlayer`` with ``decode=False``
hands over the camera's encoded packets) is shared by every viewer of that camera through
a ``MediaRelay``; each viewer has its own peer connection.

The order of :meth:`LiveRelay.answer` is the hardening: the offer is checked first
(:mod:`dashboard.services.live_offer`, nothing open yet), then the caps per user and per site, then
the camera is opened under that camera's own lock with FFmpeg's open and read timeouts, so
an unreachable camera holds up only its own viewers. From the moment the peer exists it is
owned by the relay: any failure after that closes it and, with its last viewer, the camera's
stream. A peer that has not connected ``connect_timeout_s`` after its answer is closed too,
as is every peer of a login that ends (logout, another login's "log out elsewhere", an
admin changing or disabling the user), and every viewer of a camera whose stream ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from common.config import SiteConfig
from dashboard.metrics import WEBRTC_VIEWERS
from dashboard.services.live_offer import OfferError, parse_offer

__all__ = ["LiveLimitError", "LiveLimits", "LiveRelay", "LiveViewError", "OfferError", "Viewer"]

log = logging.getLogger(__name__)
RTSP_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "500000", "probesize": "32768"}
CLOSE_WAIT_S = 10.0
"""How long a logout waits for the peers of its login to be closed."""


class LiveViewError(ConnectionError):
    """The camera's stream could not be opened for live view."""


class LiveLimitError(RuntimeError):
    """The user or the site already has as many live views as allowed."""


ViewerEnded = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who watches what: the user, their login (its CSRF token, unique to one login) and the
    camera, so that the end of a login or a change of the user closes exactly their peers."""

    username: str
    login: str
    camera_id: str


@dataclass(frozen=True, slots=True)
class LiveLimits:
    """Caps and timeouts of live view, from ``dashboard`` and ``ingest`` of the site."""

    per_user: int
    per_site: int
    open_timeout_s: float
    read_timeout_s: float
    connect_timeout_s: float

    @classmethod
    def of(cls, site: SiteConfig) -> LiveLimits:
        dashboard, ingest = site.dashboard, site.ingest
        return cls(
            per_user=dashboard.live_peers_per_user,
            per_site=dashboard.live_peers_per_site,
            open_timeout_s=ingest.open_timeout_s,
            read_timeout_s=ingest.read_timeout_s,
            connect_timeout_s=dashboard.live_connect_timeout_s,
        )


class Player(Protocol):
    """A camera's stream as the relay holds it: aiortc's ``MediaPlayer`` on one machine, the
    node's packets on a site of several (:mod:`dashboard.services.node_live`)."""

    @property
    def video(self) -> MediaStreamTrack | None: ...

    @property
    def audio(self) -> MediaStreamTrack | None: ...


Opener = Callable[[str, float], Awaitable[Player]]
"""Opens a camera's stream by its id, within a time: how a station reaches its nodes."""


@dataclass(slots=True)
class _Upstream:
    player: Player
    viewers: set[RTCPeerConnection] = field(default_factory=set)


@dataclass(slots=True)
class _Viewing:
    viewer: Viewer
    on_end: ViewerEnded | None = None
    """Set once the answer is sent (the start is audited then), so only a started view ends."""


class LiveRelay:
    """Owns the upstreams and the viewers' peer connections."""

    def __init__(self, limits: LiveLimits, opener: Opener | None = None) -> None:
        """``opener``: where cameras' streams come from when not from the cameras
        themselves (a station of several machines: from the nodes)."""
        self.limits = limits
        self._opener = opener
        self._relay = MediaRelay()
        self._upstreams: dict[str, _Upstream] = {}
        self._peers: dict[RTCPeerConnection, _Viewing] = {}
        self._camera_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def relays_nodes(self) -> bool:
        """Whether streams come from the analysis nodes (no camera URL is needed)."""
        return self._opener is not None

    @property
    def viewer_count(self) -> int:
        """Peer connections held, answered or still being set up."""
        return len(self._peers)

    @property
    def upstream_count(self) -> int:
        """Cameras whose stream is open for live view."""
        return len(self._upstreams)

    async def answer(
        self,
        viewer: Viewer,
        url: str,
        offer_sdp: str,
        on_end: ViewerEnded | None = None,
    ) -> RTCSessionDescription:
        """Accept a viewer's offer; returns the answer to send back.

        Raises :class:`OfferError` for an offer that cannot be served,
        :class:`LiveLimitError` past a cap and :class:`LiveViewError` when the camera cannot
        be opened; in every case nothing is left open.
        """
        parse_offer(offer_sdp)
        self._loop = asyncio.get_running_loop()
        self._check_limits(viewer.username)
        peer = RTCPeerConnection()
        self._peers[peer] = _Viewing(viewer)
        try:
            answer = await self._negotiate(peer, viewer.camera_id, url, offer_sdp)
        except BaseException:
            await self._drop(peer)
            raise
        viewing = self._peers.get(peer)
        if viewing is None:  # its login ended while the answer was being made
            raise LiveViewError(f"live view of {viewer.camera_id} was closed meanwhile")
        viewing.on_end = on_end
        self._spawn(self._close_if_unconnected(peer))
        log.info("live view of %s by %s", viewer.camera_id, viewer.username)
        return answer

    def _check_limits(self, username: str) -> None:
        if len(self._peers) >= self.limits.per_site:
            raise LiveLimitError(f"the station already has {self.limits.per_site} live views")
        mine = sum(1 for viewing in self._peers.values() if viewing.viewer.username == username)
        if mine >= self.limits.per_user:
            raise LiveLimitError(f"you already have {self.limits.per_user} live views open")

    async def _negotiate(
        self, peer: RTCPeerConnection, camera_id: str, url: str, offer_sdp: str
    ) -> RTCSessionDescription:
        upstream = await self._attach(peer, camera_id, url)

        @peer.on("connectionstatechange")
        async def on_state() -> None:
            if peer.connectionState in {"failed", "closed", "disconnected"}:
                await self._drop(peer)

        assert upstream.player.video is not None
        try:
            await peer.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            peer.addTrack(self._relay.subscribe(upstream.player.video, buffered=False))
            await peer.setLocalDescription(await peer.createAnswer())
        except Exception as exc:  # aiortc raises many kinds for an offer it cannot take
            raise OfferError(f"the offer could not be answered: {exc}") from exc
        return peer.localDescription

    async def _attach(self, peer: RTCPeerConnection, camera_id: str, url: str) -> _Upstream:
        """The camera's upstream, opened if it is not yet, with ``peer`` among its viewers."""
        lock = self._camera_locks.setdefault(camera_id, asyncio.Lock())
        async with lock:
            upstream = self._upstreams.get(camera_id)
            if upstream is None:
                player = await self._open(camera_id, url)
                upstream = self._upstreams[camera_id] = _Upstream(player)
                assert player.video is not None
                player.video.on("ended", self._on_upstream_end(camera_id, upstream))
            upstream.viewers.add(peer)
            WEBRTC_VIEWERS.labels(camera_id).set(len(upstream.viewers))
        return upstream

    def _on_upstream_end(self, camera_id: str, upstream: _Upstream) -> Callable[[], None]:
        """What to do when the camera's stream ends by itself (it went silent past the read
        timeout, or hung up): close its viewers, so their pages say so and a new start opens
        the camera again, rather than leaving them connected to a stream that sends nothing.
        The same event comes when the relay stops the stream, from a worker thread, after
        the upstream has been forgotten: then there is nothing to do."""

        def ended() -> None:
            if self._upstreams.get(camera_id) is upstream:
                log.warning("live view of %s: the camera's stream ended", camera_id)
                self._spawn(self._close_where(lambda viewer: viewer.camera_id == camera_id))

        return ended

    async def _open(self, camera_id: str, url: str) -> Player:
        limits = self.limits
        if self._opener is not None:
            return await self._opener(camera_id, limits.open_timeout_s + limits.read_timeout_s)
        timeout = (limits.open_timeout_s, limits.read_timeout_s)
        try:
            player = await asyncio.to_thread(
                MediaPlayer,
                url,
                format="rtsp",
                options=RTSP_OPTIONS,
                timeout=timeout,  # type: ignore[arg-type]  # PyAV takes (open, read) seconds
                decode=False,
            )
        except Exception as exc:  # FFmpeg raises many kinds; all mean "no stream"
            raise LiveViewError(f"camera {camera_id} cannot be opened for live view") from exc
        if player.video is None:
            await asyncio.to_thread(_stop_player, player)
            raise LiveViewError(f"camera {camera_id} sends no H.264 video")
        return player

    async def _close_if_unconnected(self, peer: RTCPeerConnection) -> None:
        timeout_s = self.limits.connect_timeout_s
        await asyncio.sleep(timeout_s)
        if peer in self._peers and peer.connectionState != "connected":
            log.info("live view peer closed: not connected in %.0f s", timeout_s)
            await self._drop(peer)

    async def _drop(self, peer: RTCPeerConnection) -> None:
        """Close ``peer`` and, if it was the camera's last viewer, the camera's stream."""
        viewing = self._peers.pop(peer, None)
        if viewing is not None:
            camera_id = viewing.viewer.camera_id
            upstream = self._upstreams.get(camera_id)
            if upstream is not None and peer in upstream.viewers:
                upstream.viewers.discard(peer)
                WEBRTC_VIEWERS.labels(camera_id).set(len(upstream.viewers))
                if not upstream.viewers:
                    del self._upstreams[camera_id]
                    await asyncio.to_thread(_stop_player, upstream.player)
        await peer.close()
        if viewing is not None and viewing.on_end is not None:
            viewing.on_end()

    def close_sessions_of(self, username: str, keep_login: str | None = None) -> None:
        """Close the live views of ``username``, all but those of login ``keep_login``.

        For the routes that end logins; callable from a worker thread (a plain ``def``
        route), where it waits until the peers are closed, or from the event loop.
        """

        def ends(viewer: Viewer) -> bool:
            return viewer.username == username and viewer.login != keep_login

        self._run(self._close_where(ends))

    def close_login(self, login: str) -> None:
        """Close the live views opened under one login (its logout)."""
        self._run(self._close_where(lambda viewer: viewer.login == login))

    async def _close_where(self, ends: Callable[[Viewer], bool]) -> None:
        peers = [peer for peer, viewing in self._peers.items() if ends(viewing.viewer)]
        await asyncio.gather(*(self._drop(peer) for peer in peers))

    def _run(self, job: Coroutine[Any, Any, None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():  # no live view was ever asked for
            job.close()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn(job)
            return
        done: Future[None] = asyncio.run_coroutine_threadsafe(job, loop)
        try:
            done.result(timeout=CLOSE_WAIT_S)
        except TimeoutError:  # the closing goes on; the route need not wait for it
            log.warning("live views still closing after %.0f s", CLOSE_WAIT_S)

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Close every peer and upstream (at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(self._drop(peer) for peer in list(self._peers)))


def _stop_player(player: Player) -> None:
    """Stop the player's reading thread and close its RTSP connection (this may wait up to
    the read timeout, so it runs off the event loop)."""
    for track in (player.audio, player.video):
        if track is not None:
            track.stop()
