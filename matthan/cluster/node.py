"""An analysis node of a site over several machines: ``matthan node -c site.yaml --name N``.

Every node reads the same site file. A node holds cameras by leases (:mod:`.leases`): the
nodes share the site's cameras fairly, and a node that dies loses its leases, whose cameras
the others take within the lease time. For the cameras it holds, a node runs what one machine
runs for all of them: ingest shards and the detection core, under the same supervisor
(:class:`matthan.supervisor.Supervisor` in node mode), with their own store and recordings
under ``<database folder>/nodes/<name>/``. Frames never leave the node. When the cameras it
holds change, the node restarts its roles on the new set.

What leaves the node: its cameras' thumbnails for the station's camera wall
(:mod:`.thumbnails`), its alerts and its cameras' states, relayed from its store to the
station's alert stream by the outbox (:mod:`.outbox`: commit first, then send, nothing lost
across a crash), the index of its recorded segments by the same outbox (the files stay here
and are served to the station on request, with the site token: :mod:`.footage_server`,
whose address the report carries as ``footage_url``), and at each lease step a report in
the nodes bucket (``node.<name>``): the cameras it holds and those it analyses now (its
detection core beat and the camera is online since its roles last started), which
``matthan_cluster`` metrics, the benchmarks and an operator's ``nats kv`` read.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from pathlib import Path

from common import camera_states
from common.config import ClusterConfig, SiteConfig
from common.heartbeat import BEAT_EVERY_S, heartbeat_ages
from common.messages import CameraState
from common.roles import DETECT_ROLE
from common.store import Store
from common.thumbnail_files import thumbnails_folder
from common.tls_files import (
    TlsFilesError,
    check_authority,
    check_identity,
    server_context,
    site_tls,
)
from common.watching import DetectionsChannel
from matthan.cluster.alert_stream import AlertPublisher
from matthan.cluster.client import NatsAuthError, NatsClient, NatsClientError
from matthan.cluster.footage_server import FootageServer
from matthan.cluster.holds import HoldMirror
from matthan.cluster.leases import CameraLeases
from matthan.cluster.live_feed import LiveFeeds
from matthan.cluster.outbox import AlertOutbox
from matthan.cluster.server import site_token
from matthan.cluster.thumbnails import ThumbnailRelay
from matthan.supervisor import SiteMode, Supervisor, SupervisorError, prepare_metrics_dir

log = logging.getLogger(__name__)

FRESH_BEAT_S = 3 * BEAT_EVERY_S
CONNECT_RETRY_S = 2.0
REPORT_EVERY_S = 0.5
"""How often the node checks what it analyses; a change is announced at once."""
HOLDS_EVERY_S = 2.0
"""How often the node reads the station's list of legal holds (:mod:`.holds`)."""


def node_folder(site: SiteConfig, name: str) -> Path:
    """Where node ``name`` keeps its store (and, below the recordings folder, its footage)."""
    return site.storage.database.resolve().parent / "nodes" / name


def node_site(site: SiteConfig, name: str, cameras: frozenset[str]) -> SiteConfig:
    """The site as node ``name`` runs it: the cameras it holds, its own store and recordings."""
    database = node_folder(site, name) / site.storage.database.name
    return site.model_copy(
        update={
            "cameras": [camera for camera in site.cameras if camera.id in cameras],
            "storage": site.storage.model_copy(update={"database": database}),
            "recording": site.recording.model_copy(
                update={"path": site.recording.path.resolve() / "nodes" / name}
            ),
        }
    )


def _footage_tls(cluster: ClusterConfig) -> ssl.SSLContext | None:
    """The footage server's TLS context on a site with ``cluster.tls``, its files checked
    (and the authority the node's NATS client verifies the station by)."""
    if cluster.tls is None:
        return None
    check_identity(cluster.tls.cert, cluster.tls.key, "cluster.tls")
    check_authority(cluster.tls.ca, "cluster.tls.ca")
    return server_context(cluster.tls.cert, cluster.tls.key)


class _Roles:
    """The node's supervisor over one set of cameras, in a thread of its own."""

    def __init__(self, site: SiteConfig, workers: int | None) -> None:
        self.cameras = frozenset(camera.id for camera in site.cameras)
        self.started_at = time.time()
        self.error: str | None = None
        self._supervisor = Supervisor(site, workers, SiteMode.NODE)
        self._thread = threading.Thread(target=self._run, name="node-roles", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._supervisor.run()
        except SupervisorError as exc:
            self.error = str(exc)

    def request_stop(self) -> None:
        """Stop the roles, without waiting for them (see :meth:`join`)."""
        self._supervisor.request_stop()

    def join(self) -> None:
        self._thread.join()

    @property
    def stopped(self) -> bool:
        return not self._thread.is_alive()

    @property
    def overlay(self) -> DetectionsChannel | None:
        """The roles' boxes channel and watched flags (None until they are planned)."""
        return self._supervisor.overlay


class Node:
    """One analysis node until :meth:`request_stop` (SIGTERM, Ctrl-C)."""

    def __init__(
        self,
        site: SiteConfig,
        name: str,
        workers: int | None = None,
        *,
        http_port: int = 0,
        advertise_host: str = "127.0.0.1",
    ) -> None:
        """``http_port`` (0: any free one) and ``advertise_host``: where the node serves its
        footage to the station (:mod:`.footage_server`), reported as ``footage_url``."""
        self.site = site
        self.name = name
        self._workers = workers
        self._http_port = http_port
        self._advertise_host = advertise_host
        self._stop = threading.Event()
        self._stopping: list[_Roles] = []
        """Roles of an earlier set of cameras, still stopping."""
        self._roles: _Roles | None = None
        """The roles of the cameras held now (None: none held)."""
        self._held: frozenset[str] = frozenset()
        self.database = node_folder(site, name) / site.storage.database.name

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> int:
        """Hold cameras and analyse them until asked to stop; 1 when the roles kept dying or
        the site's TLS files cannot be used."""
        cluster = self.site.cluster
        try:
            footage_tls = _footage_tls(cluster)
        except TlsFilesError as exc:
            log.error("node %s: %s", self.name, exc)
            return 1
        self.database.parent.mkdir(parents=True, exist_ok=True)
        prepare_metrics_dir(self.database.parent)
        client = self._connect()
        if client is None:  # asked to stop while waiting for the server
            return 0
        store = Store(self.database)
        try:
            footage = FootageServer(
                store,
                site_token(cluster.token_env),
                advertise_host=self._advertise_host,
                port=self._http_port,
                tls=footage_tls,
            )
        except OSError:  # the port is taken
            client.close()
            store.close()
            raise
        outbox = AlertOutbox(store, AlertPublisher(client, cluster.site_id), node=self.name)
        outbox_stop = threading.Event()
        relay = threading.Thread(target=outbox.run, args=(outbox_stop,), name="outbox")
        relay.start()
        enabled = [camera.id for camera in self.site.cameras if camera.enabled]
        leases = CameraLeases(client, self.name, enabled, cluster.lease_s)
        pictures = ThumbnailRelay(client, cluster.site_id, thumbnails_folder(self.database))
        live = LiveFeeds(
            client,
            self.site,
            held=lambda: self._held,
            overlay=lambda: self._roles.overlay if self._roles is not None else None,
            node=self.name,
        ).start()
        log.info("node %s: %d cameras on the site, %s", self.name, len(enabled), cluster.url)
        holds = HoldMirror(client, store)
        try:
            return self._hold(store, leases, pictures, (footage.url, outbox.origin), holds)
        finally:
            for old in (*self._stopping, self._roles):
                if old is not None:
                    old.request_stop()
                    old.join()
            live.stop()
            leases.release_all()
            outbox_stop.set()
            relay.join()
            footage.close()
            client.close()
            store.close()

    def _hold(
        self,
        store: Store,
        leases: CameraLeases,
        pictures: ThumbnailRelay,
        served: tuple[str, str],
        holds: HoldMirror,
    ) -> int:
        """The node's loop: the station's legal holds copied, lease steps, roles on the
        cameras held, pictures and reports. ``served``: where the node serves its footage,
        and its store's origin (the station ends the alerts of that origin if the node is lost)."""
        next_step = next_holds = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_holds:  # first: before the roles' retention sweeps
                next_holds = time.monotonic() + HOLDS_EVERY_S
                holds.step()
            if time.monotonic() >= next_step:
                next_step = time.monotonic() + leases.step_s
                self._held = leases.step()
                if self._roles is None or self._roles.cameras != self._held:
                    self._roles = self._restart(self._roles, self._held)
            roles = self._roles
            if roles is not None and roles.error is not None:
                log.error("node %s: %s", self.name, roles.error)
                return 1
            pictures.publish_changed(roles.cameras if roles is not None else frozenset())
            report = {
                "cameras": sorted(self._held),
                "analysing": self._analysing(store, roles),
                "footage_url": served[0],
                "origin": served[1],
            }
            if report != leases.report:
                leases.report = report
                leases.announce()
            self._stop.wait(REPORT_EVERY_S)
        return 0

    def _connect(self) -> NatsClient | None:
        """The connection to the site's NATS server, waited for while it cannot be reached (a
        node may start before its station); a refused token is an error at once."""
        cluster = self.site.cluster
        token = site_token(cluster.token_env)
        waiting = False
        while not self._stop.is_set():
            try:
                return NatsClient.connect(cluster.url, token, name=self.name, tls=site_tls(cluster))
            except NatsAuthError:
                raise
            except (NatsClientError, TimeoutError) as exc:
                if not waiting:
                    log.warning(
                        "node %s: waiting for the site's NATS server at %s (is the station"
                        " running, with the same cluster.tls as this node's site file?): %s",
                        self.name,
                        cluster.url,
                        exc,
                    )
                    waiting = True
                self._stop.wait(CONNECT_RETRY_S)
        return None

    def _restart(self, roles: _Roles | None, held: frozenset[str]) -> _Roles | None:
        """Roles for the cameras ``held``. The last ones stop meanwhile, not first: the new
        ones load the model while the old ones close their streams (a faster failover)."""
        self._stopping = [old for old in self._stopping if not old.stopped]
        if roles is not None:
            log.info("node %s: cameras now %s; restarting its roles", self.name, sorted(held))
            roles.request_stop()
            self._stopping.append(roles)
        if not held:
            return None
        return _Roles(node_site(self.site, self.name, held), self._workers)

    def _analysing(self, store: Store, roles: _Roles | None) -> list[str]:
        """The held cameras analysed now: the detection core beat lately, and the camera came
        online since the roles last started."""
        if roles is None:
            return []
        since = roles.started_at
        beat_at = time.time() - heartbeat_ages(store).get(DETECT_ROLE, float("inf"))
        if beat_at < max(since, time.time() - FRESH_BEAT_S):
            return []
        states = camera_states.latest_camera_states(store)
        return sorted(
            camera
            for camera in roles.cameras
            if (status := states.get(camera)) is not None
            and status.state is CameraState.ONLINE
            and status.at >= since
        )
