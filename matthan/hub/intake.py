"""The hub's reader of one station's alert stream, into the hub's store of that station.

It connects to the hub's own NATS server as ``hub-<station>`` (the station's account there)
and reads the station's stream ``MATTHAN_ALERTS`` in the station's JetStream domain, over the
station's leaf link, with the durable consumer ``matthan_hub_<hub>``. That consumer lives at
the station: while the link is down the events wait there, and when it is back the hub goes
on from the last event it acked, in the stream's order. It acks each event only after its
commit, and the store keeps one alert per producer uid (a redelivered event adds nothing),
exactly as the station's own intake (:mod:`matthan.cluster.alert_stream`).

Whether the link is up is asked every :data:`PROBE_EVERY_S`: the consumer's info, a request
that only the station answers (an empty fetch and a cut link look alike).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

import nats.errors
import nats.js.errors

from common.hub_links import LINK_UNKNOWN, LinkState
from common.store import Store
from common.store_retry import UNTIL_COMMITTED
from matthan.cluster.alert_stream import STREAM, AlertStreamConsumer
from matthan.cluster.client import NatsClient, NatsClientError
from matthan.cluster.hub_server import hub_user
from matthan.hub.metrics import EVENTS_STORED, STATION_UP, STREAM_LAG

log = logging.getLogger(__name__)

PROBE_EVERY_S = 2.0
RETRY_S = 1.0


class StationIntake:
    """Reads one station's alert stream into ``store`` until :meth:`stop` (own thread)."""

    def __init__(self, hub_id: str, station_id: str, url: str, token: str, store: Store) -> None:
        self.station_id = station_id
        self._hub_id = hub_id
        self._url = url
        self._token = token
        self._store = store
        self._stop = threading.Event()
        self._state = LINK_UNKNOWN
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"hub-{station_id}", daemon=True)
        STATION_UP.labels(station_id).set(0)

    @property
    def durable(self) -> str:
        return f"matthan_hub_{self._hub_id}"

    def state(self) -> LinkState:
        with self._lock:
            return self._state

    def start(self) -> StationIntake:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._state = dataclasses.replace(self._state, **changes)
        STATION_UP.labels(self.station_id).set(1 if self._state.up else 0)

    def _connect(self) -> NatsClient | None:
        try:
            return NatsClient.connect(
                self._url,
                self._token,
                user=hub_user(self.station_id),
                domain=self.station_id,
                name=f"hub-{self.station_id}",
            )
        except NatsClientError as exc:
            self._set(up=False, error=str(exc), checked_at=time.time())
            log.warning("hub: station %s: %s", self.station_id, exc)
            return None

    def _run(self) -> None:
        client = None
        while client is None and not self._stop.is_set():
            client = self._connect()
            if client is None:
                self._stop.wait(RETRY_S)
        if client is None:
            return
        consumer = AlertStreamConsumer(
            client,
            Store(self._store.path, retry=UNTIL_COMMITTED),
            durable=self.durable,
            lag=STREAM_LAG.labels(self.station_id),
            creates_stream=False,
            indexes_segments=False,
        )
        probed_at = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() - probed_at >= PROBE_EVERY_S:
                    probed_at = time.monotonic()
                    self._probe(client)
                if not self.state().up:
                    self._stop.wait(RETRY_S)
                    continue
                try:
                    handled = consumer.step(wait_s=0.5)
                except (TimeoutError, nats.errors.Error) as exc:
                    log.warning("hub: station %s: %s; trying again", self.station_id, exc)
                    self._set(up=False, error=_why(exc))
                    probed_at = 0.0
                    self._stop.wait(RETRY_S)
                    continue
                if handled.stored or handled.skipped:
                    self._set(last_event_at=time.time())
                    EVENTS_STORED.labels(self.station_id, "stored").inc(handled.stored)
                    EVENTS_STORED.labels(self.station_id, "skipped").inc(handled.skipped)
        finally:
            client.close()

    def _probe(self, client: NatsClient) -> None:
        """Ask the station for the hub's consumer: up and its lag, or down and why."""
        try:
            info = client.run(client.js.consumer_info(STREAM, self.durable), 3.0)
        except nats.js.errors.NotFoundError:
            self._set(up=True, lag=None, checked_at=time.time(), error="")  # not made yet
            return
        except (TimeoutError, nats.errors.Error) as exc:
            if self.state().up:
                log.warning("hub: station %s unreachable: %s", self.station_id, exc)
            self._set(up=False, checked_at=time.time(), error=_why(exc))
            return
        if not self.state().up:
            log.info("hub: station %s reachable", self.station_id)
        lag = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        STREAM_LAG.labels(self.station_id).set(lag)
        self._set(up=True, lag=lag, checked_at=time.time(), error="")


NO_ANSWER = "no answer from the station over its leaf link (not joined, link or its NATS down)"


def _why(exc: BaseException) -> str:
    """What an operator reads on the hub's page when a station cannot be reached."""
    if isinstance(exc, TimeoutError | nats.errors.TimeoutError | nats.errors.NoRespondersError):
        return NO_ANSWER
    if isinstance(exc, nats.js.errors.ServiceUnavailableError):
        return NO_ANSWER
    return str(exc) or type(exc).__name__
