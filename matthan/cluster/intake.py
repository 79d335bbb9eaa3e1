"""The station's intake role on a site of several machines: the alert stream into its store.

One process under the supervisor, like every role: it reads the nodes' alert and camera events
from the stream (:class:`~matthan.cluster.alert_stream.AlertStreamConsumer`), commits each to
the station's store before acking it, announces new alerts to the dashboard's feed, and beats
its heartbeat (``alerts-in``) so that ``/readyz`` says when it is stuck. It also writes the
cameras' thumbnails the nodes publish (:mod:`.thumbnails`), reads the nodes' reports
(:func:`watch_nodes`) and publishes the legal holds in force to them (:mod:`.holds`). A lost
NATS server is waited for; a killed intake is restarted by the supervisor and resumes at its
last ack.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nats.errors

from common import alert_rows, cluster_nodes
from common.channel import Channel
from common.cluster_nodes import NodeReport
from common.config import SiteConfig
from common.heartbeat import Heartbeat
from common.messages import AlertNotice
from common.roles import INTAKE_ROLE
from common.store import Store
from common.store_retry import UNTIL_COMMITTED
from common.thumbnail_files import thumbnails_folder
from common.tls_files import site_tls
from matthan.cluster.alert_stream import AlertStreamConsumer
from matthan.cluster.client import NatsClient
from matthan.cluster.holds import HoldPublisher
from matthan.cluster.leases import node_reports
from matthan.cluster.metrics import (
    CAMERAS_UNANALYSED,
    LOST_NODE_ALERTS_ENDED,
    NODE_CAMERAS,
    NODE_UP,
    NODES_LIVE,
)
from matthan.cluster.server import site_token
from matthan.cluster.thumbnails import receive_thumbnails

log = logging.getLogger(__name__)

RETRY_S = 1.0
NODES_EVERY_S = 2.0
"""How often the intake reads the nodes' reports (metrics and the store's ``cluster_nodes``)."""
LOST_NODE_MIN_S = 60.0
"""The least silence after which a node's open alerts are ended (:func:`lost_after_s`)."""
FORGET_NODE_S = 24 * 3600.0
"""A node gone this long is no longer reported as down (it was taken out of service)."""


@dataclass(frozen=True, slots=True)
class IntakePlan:
    site: SiteConfig
    database: Path


def run_intake(plan: IntakePlan, notices: Channel[AlertNotice], stop: threading.Event) -> None:
    """Process entry point: consume the alert stream into the store until ``stop``."""
    cluster = plan.site.cluster
    store = Store(plan.database, retry=UNTIL_COMMITTED)
    heartbeat = Heartbeat(store, INTAKE_ROLE)
    token = site_token(cluster.token_env)
    client = NatsClient.connect(cluster.url, token, name="station", tls=site_tls(cluster))
    consumer = AlertStreamConsumer(client, store, notices)
    receive_thumbnails(client, cluster.site_id, thumbnails_folder(plan.database))
    enabled = {camera.id for camera in plan.site.cameras if camera.enabled}
    log.info("alert intake ready: %s into %s", cluster.url, plan.database)
    nodes = threading.Thread(
        target=_watch_nodes_until,
        args=(stop, client, store, enabled),
        kwargs={"lease_s": cluster.lease_s, "notices": notices},
        name="nodes",
        daemon=True,
    )
    nodes.start()  # apart from the stream, whose events must not wait for it
    try:
        while not stop.is_set():
            try:
                consumer.step(wait_s=0.5)
            except (TimeoutError, nats.errors.Error) as exc:
                log.warning("alert intake: %s; trying again", exc)
                stop.wait(RETRY_S)
                continue
            heartbeat.maybe_beat()
    finally:
        nodes.join(5.0)
        client.close()
        notices.close()
        store.close()


def _watch_nodes_until(
    stop: threading.Event,
    client: NatsClient,
    store: Store,
    enabled: set[str],
    *,
    lease_s: float,
    notices: Channel[AlertNotice],
) -> None:
    holds = HoldPublisher(client, store)
    swept: dict[str, float] = {}
    while not stop.wait(NODES_EVERY_S):
        try:
            watch_nodes(client, store, enabled, lease_s)
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("alert intake: the nodes' reports: %s", exc)
        else:  # only on fresh reports: a node is lost by its own silence, not the server's
            end_lost_nodes_alerts(store, time.time(), lost_after_s(lease_s), notices, swept)
        try:
            holds.step()
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("alert intake: the legal holds not published: %s", exc)


def watch_nodes(client: NatsClient, store: Store, enabled: set[str], lease_s: float) -> None:
    """Read the nodes' reports into the metrics and the store: which node analyses what, and
    which enabled cameras no live node analyses."""
    now = time.time()
    reports = [
        NodeReport(
            name,
            tuple(str(c) for c in _list(report.get("cameras"))),
            tuple(str(c) for c in _list(report.get("analysing"))),
            float(at) if isinstance(at := report.get("at"), int | float) else now,
            url if isinstance(url := report.get("footage_url"), str) else None,
            origin if isinstance(origin := report.get("origin"), str) else None,
        )
        for name, report in client.run(node_reports(client)).items()
    ]
    live = [report for report in reports if now - report.seen_at <= lease_s]
    NODES_LIVE.set(len(live))
    for known in cluster_nodes.reports(store):  # a node gone since: nothing held any more
        NODE_CAMERAS.labels(known.name, "held").set(0)
        NODE_CAMERAS.labels(known.name, "analysing").set(0)
        if now - known.seen_at <= FORGET_NODE_S:
            NODE_UP.labels(known.name).set(0)
    for report in live:
        NODE_UP.labels(report.name).set(1)
        NODE_CAMERAS.labels(report.name, "held").set(len(report.cameras))
        NODE_CAMERAS.labels(report.name, "analysing").set(len(report.analysing))
    analysed = {camera for report in live for camera in report.analysing}
    CAMERAS_UNANALYSED.set(len(enabled - analysed))
    cluster_nodes.record(store, reports)


def lost_after_s(lease_s: float) -> float:
    """How long a node is silent before the station ends its open alerts: well past its
    leases (its cameras are another node's by then) and past any clock skew."""
    return max(3 * lease_s, LOST_NODE_MIN_S)


def end_lost_nodes_alerts(
    store: Store,
    now: float,
    after_s: float,
    notices: Channel[AlertNotice] | None = None,
    swept: dict[str, float] | None = None,
) -> int:
    """End the open alerts of every node silent for ``after_s``, as of its last report:
    nobody follows what they were about any more (the cameras restart their rules on the
    node that took them). A node that comes back sends its own ends, which change nothing
    then; its alerts still open on its store end at its start. Returns how many ended.
    ``swept`` (node name to the last report it was swept for) makes it once per silence."""
    ended = 0
    for node in cluster_nodes.reports(store):
        if node.origin is None or now - node.seen_at < after_s:
            continue
        if swept is not None:
            if swept.get(node.name) == node.seen_at:
                continue
            swept[node.name] = node.seen_at
        alerts = alert_rows.end_alerts_of_origin(store, node.origin, node.seen_at)
        for alert in alerts:
            if notices is not None:
                notices.send(AlertNotice(alert.id, alert.camera_id, alert.kind, updated=True))
        if alerts:
            LOST_NODE_ALERTS_ENDED.labels(node.name).inc(len(alerts))
            log.warning(
                "node %s silent since %s: its %d open alert(s) ended",
                node.name,
                time.strftime("%H:%M:%S", time.localtime(node.seen_at)),
                len(alerts),
            )
        ended += len(alerts)
    return ended


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
