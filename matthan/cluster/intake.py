"""The station's intake role on a site of several machines: the alert stream into its store.

One process under the supervisor, like every role: it reads the nodes' alert and camera events
from the stream (:class:`~matthan.cluster.alert_stream.AlertStreamConsumer`), commits each to
the station's store before acking it, announces new alerts to the dashboard's feed, and beats
its heartbeat (``alerts-in``) so that ``/readyz`` says when it is stuck. A lost NATS server is
waited for; a killed intake is restarted by the supervisor and resumes at its last ack.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import nats.errors

from common.channel import Channel
from common.config import SiteConfig
from common.heartbeat import Heartbeat
from common.messages import AlertNotice
from common.roles import INTAKE_ROLE
from common.store import Store
from common.store_retry import UNTIL_COMMITTED
from matthan.cluster.alert_stream import AlertStreamConsumer
from matthan.cluster.client import NatsClient
from matthan.cluster.server import site_token

log = logging.getLogger(__name__)

RETRY_S = 1.0


@dataclass(frozen=True, slots=True)
class IntakePlan:
    site: SiteConfig
    database: Path


def run_intake(plan: IntakePlan, notices: Channel[AlertNotice], stop: threading.Event) -> None:
    """Process entry point: consume the alert stream into the store until ``stop``."""
    cluster = plan.site.cluster
    store = Store(plan.database, retry=UNTIL_COMMITTED)
    heartbeat = Heartbeat(store, INTAKE_ROLE)
    client = NatsClient.connect(cluster.url, site_token(cluster.token_env), name="station")
    consumer = AlertStreamConsumer(client, store, notices)
    log.info("alert intake ready: %s into %s", cluster.url, plan.database)
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
        client.close()
        notices.close()
        store.close()
