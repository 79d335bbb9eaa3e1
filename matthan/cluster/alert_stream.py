"""Alerts from the nodes to the station's store over JetStream: none lost, none doubled.

Producers (analysis nodes) publish :mod:`alert events <matthan.cluster.alert_events>` to the
file-backed stream ``MATTHAN_ALERTS`` (subjects ``matthan.alerts.<site>.<camera>``). A publish
returns once the server has the event on disk, and carries ``Nats-Msg-Id`` = uid + event: a
producer that re-publishes after a lost answer (inside the two-minute duplicate window) adds
nothing.

The station reads the stream with one durable pull consumer, :class:`AlertStreamConsumer`,
and acks each event only after the store committed it. A station that is down or restarts
loses nothing (the stream keeps the events; unacked ones come again after ``ack_wait_s``),
and an event that comes again is no second alert: :func:`common.alert_rows.add_alert`
stores nothing for a uid already stored, :func:`~common.alert_rows.end_alert_by_uid` ends
an alert once. After a commit the consumer announces the alert on the station's notices
channel, as the single-machine path does.

An ``ended`` event whose ``opened`` the store does not hold yet (the ``opened`` is waiting
for redelivery after a crash) is put back with a delay; after ``ORPHAN_DELIVERIES`` tries it
is dropped and logged (a producer bug, not a race).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from prometheus_client import Gauge

from common import alert_rows, camera_states, node_footage, recordings
from common.alert_rows import NewAlert
from common.channel import Channel
from common.messages import AlertNotice, CameraStatus
from common.store import Store
from matthan.cluster.alert_events import (
    SUBJECT_ROOT,
    AlertEnded,
    AlertEvent,
    AlertEventError,
    AlertOpened,
    CameraChanged,
    SegmentRecorded,
    SegmentRemoved,
    decode,
    encode,
    message_id,
    subject,
)
from matthan.cluster.client import NatsClient
from matthan.cluster.metrics import (
    ALERT_EVENTS_PUBLISHED,
    ALERT_EVENTS_REDELIVERED,
    ALERT_EVENTS_STORED,
    ALERT_STREAM_LAG,
)

log = logging.getLogger(__name__)

STREAM = "MATTHAN_ALERTS"
DURABLE = "matthan_station"
DUPLICATE_WINDOW_S = 120.0
KEEP_S = 14 * 24 * 3600.0
"""How long the stream keeps events: a station may be down this long and lose nothing."""
ORPHAN_DELIVERIES = 20
ORPHAN_RETRY_S = 1.0


async def ensure_stream(js: JetStreamContext, keep_s: float = KEEP_S) -> None:
    """Create the alert stream if it is missing (the same config again is no change)."""
    config = api.StreamConfig(
        name=STREAM,
        subjects=[f"{SUBJECT_ROOT}.>"],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        max_age=keep_s,
        duplicate_window=DUPLICATE_WINDOW_S,
    )
    try:
        await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        await js.add_stream(config)


class AlertPublisher:
    """A producer's side: publish each alert's ``opened`` and ``ended`` events."""

    def __init__(self, client: NatsClient, site: str, timeout_s: float = 5.0) -> None:
        self._client = client
        self.site = site
        self._timeout_s = timeout_s
        self._ready = False

    def opened(self, alert: NewAlert) -> bool:
        """Publish a committed alert (``alert.uid`` set); False: the server had it already."""
        return self._publish(AlertOpened(self.site, alert))

    def ended(self, camera_id: str, kind: str, uid: str, at: float) -> bool:
        """Publish that alert ``uid`` ended at ``at``; False: the server had it already."""
        return self._publish(AlertEnded(self.site, camera_id, kind, uid, at))

    def camera_changed(self, uid: str, status: CameraStatus) -> bool:
        """Publish a camera's new state (``uid`` names the event); False: had it already."""
        return self._publish(CameraChanged(self.site, uid, status))

    def segment_recorded(self, event: SegmentRecorded) -> bool:
        """Publish a segment a node recorded; False: the server had it already."""
        return self._publish(event)

    def segment_removed(self, event: SegmentRemoved) -> bool:
        """Publish that a node deleted a segment it announced; False: the server had it."""
        return self._publish(event)

    def _publish(self, event: AlertEvent) -> bool:
        """Returns once the stream holds the event; raises ``TimeoutError`` or a nats error
        when it may not (publish it again: the message id makes that safe)."""
        if not self._ready:
            self._client.run(ensure_stream(self._client.js), self._timeout_s)
            self._ready = True
        kind = {
            AlertOpened: "opened",
            AlertEnded: "ended",
            CameraChanged: "camera",
            SegmentRecorded: "segment",
            SegmentRemoved: "segment_removed",
        }[type(event)]
        ack = self._client.run(
            self._client.js.publish(
                subject(event),
                encode(event),
                stream=STREAM,
                headers={"Nats-Msg-Id": message_id(event)},
            ),
            self._timeout_s,
        )
        duplicate = bool(ack.duplicate)
        ALERT_EVENTS_PUBLISHED.labels(kind, "duplicate" if duplicate else "new").inc()
        return not duplicate


@dataclass(frozen=True, slots=True)
class Handled:
    """What one step of the consumer did (counts of events)."""

    stored: int = 0
    """Events committed now (a new alert, or an alert ended now)."""
    skipped: int = 0
    """Events already in the store (a redelivery or a replay)."""
    redelivered: int = 0
    deferred: int = 0
    """``ended`` events put back to wait for their ``opened``."""


class AlertStreamConsumer:
    """The station's side: store every event of the stream, ack after the commit.

    Call :meth:`step` in a loop (or :meth:`run` in a thread). One durable consumer per
    station: its name survives restarts, so a restarted station resumes where the last
    acked event left off.
    """

    def __init__(
        self,
        client: NatsClient,
        store: Store,
        notices: Channel[AlertNotice] | None = None,
        *,
        durable: str = DURABLE,
        ack_wait_s: float = 30.0,
        batch: int = 32,
        lag: Gauge = ALERT_STREAM_LAG,
        creates_stream: bool = True,
        indexes_segments: bool = True,
    ) -> None:
        """``lag`` is the gauge of the events still to read; ``creates_stream`` is False for
        a reader that is not the stream's owner, and ``indexes_segments`` for one that cannot
        fetch the nodes' recordings (a district hub reading a station's stream)."""
        self._indexes_segments = indexes_segments
        self._client = client
        self._lag = lag
        self._creates_stream = creates_stream
        self._store = store
        self._notices = notices
        self._durable = durable
        self._ack_wait_s = ack_wait_s
        self._batch = batch
        self._subscription: JetStreamContext.PullSubscription | None = None

    def _subscribe(self) -> JetStreamContext.PullSubscription:
        if self._subscription is None:
            config = api.ConsumerConfig(
                durable_name=self._durable,
                ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.ALL,
                ack_wait=self._ack_wait_s,
                max_ack_pending=10 * self._batch,
            )

            async def subscribe() -> JetStreamContext.PullSubscription:
                if self._creates_stream:
                    await ensure_stream(self._client.js)
                return await self._client.js.pull_subscribe(
                    f"{SUBJECT_ROOT}.>", durable=self._durable, stream=STREAM, config=config
                )

            self._subscription = self._client.run(subscribe())
        return self._subscription

    def step(self, wait_s: float = 1.0) -> Handled:
        """Fetch up to one batch (waiting at most ``wait_s`` for the first event), store each
        event and ack it after its commit.

        The first event is fetched alone: a fetch of several waits until it has them all or
        its time is up, which would hold a lone alert back for up to ``wait_s``. The events
        already waiting behind it (its ``num_pending``) then come in one fetch that returns
        as soon as they are there."""
        subscription = self._subscribe()
        try:
            messages = self._client.run(subscription.fetch(1, timeout=wait_s), wait_s + 5.0)
        except nats.errors.TimeoutError:
            self._lag.set(0)
            return Handled()
        if not messages:  # a fetch cut short by a reconnect
            return Handled()
        behind = min(self._batch - 1, messages[0].metadata.num_pending or 0)
        if behind:
            with contextlib.suppress(nats.errors.TimeoutError):
                messages += self._client.run(
                    subscription.fetch(behind, timeout=wait_s), wait_s + 5.0
                )
        stored = skipped = redelivered = deferred = 0
        for message in messages:
            metadata = message.metadata
            if metadata.num_delivered is not None and metadata.num_delivered > 1:
                redelivered += 1
                ALERT_EVENTS_REDELIVERED.inc()
            outcome = self._handle(message)
            stored += outcome == "stored"
            skipped += outcome == "skipped"
            deferred += outcome == "deferred"
        self._lag.set(messages[-1].metadata.num_pending or 0)
        return Handled(stored, skipped, redelivered, deferred)

    def run(self, stop: threading.Event, wait_s: float = 1.0) -> None:
        """Consume until ``stop`` is set; a lost server is waited for, not fatal."""
        while not stop.is_set():
            try:
                self.step(wait_s)
            except (TimeoutError, nats.errors.Error) as exc:
                log.warning("alert stream: %s; trying again", exc)
                stop.wait(1.0)

    def _handle(self, message: Msg) -> str:
        try:
            event = decode(message.data)
        except AlertEventError as exc:
            log.error("alert stream: dropping message %s: %s", message.subject, exc)
            self._client.run(message.term())
            return "dropped"
        if isinstance(event, CameraChanged):
            camera_states.add_camera_status(self._store, event.status)
            ALERT_EVENTS_STORED.labels("camera", "new").inc()
            self._client.run(message.ack())
            return "stored"
        if isinstance(event, SegmentRecorded | SegmentRemoved) and not self._indexes_segments:
            self._client.run(message.ack())  # a reader far from the nodes (a district hub)
            return "skipped"
        if isinstance(event, SegmentRemoved):  # forgotten once, whatever comes again
            gone = node_footage.forget(self._store, event.node, event.remote_id)
            ALERT_EVENTS_STORED.labels("segment_removed", "new" if gone else "skipped").inc()
            self._client.run(message.ack())
            return "stored" if gone else "skipped"
        if isinstance(event, SegmentRecorded):  # indexed once, whatever comes again
            new = recordings.add_node_segment(
                self._store,
                event.camera_id,
                node=event.node,
                remote_id=event.remote_id,
                start=event.start,
                end=event.end,
                size=event.bytes,
            )
            if new:  # a copy of what the id named before (a node's store made anew) must go
                node_footage.drop_copy(self._store, event.node, event.remote_id)
            ALERT_EVENTS_STORED.labels("segment", "new" if new else "skipped").inc()
            self._client.run(message.ack())
            return "stored" if new else "skipped"
        stored_id, was_ended = self._stored(event.uid)
        if isinstance(event, AlertOpened):
            outcome = self._open(event, stored_id)
        else:
            outcome = self._end(event, stored_id, was_ended, message)
        if outcome != "deferred":
            self._client.run(message.ack())
        return outcome

    def _open(self, event: AlertOpened, stored_id: int | None) -> str:
        alert_id = alert_rows.add_alert(
            self._store, event.alert
        )  # nothing new if the uid is stored
        if stored_id is not None:
            ALERT_EVENTS_STORED.labels("opened", "skipped").inc()
            return "skipped"
        ALERT_EVENTS_STORED.labels("opened", "new").inc()
        self._announce(AlertNotice(alert_id, event.camera_id, event.alert.kind))
        return "stored"

    def _end(self, event: AlertEnded, stored_id: int | None, was_ended: bool, message: Msg) -> str:
        if stored_id is None:
            delivered = message.metadata.num_delivered or 1
            if delivered < ORPHAN_DELIVERIES:
                self._client.run(message.nak(delay=ORPHAN_RETRY_S))
                return "deferred"
            log.error("alert stream: %s ended but was never opened; dropped", event.uid)
            return "dropped"
        alert_rows.end_alert_by_uid(self._store, event.uid, event.at)
        if was_ended:
            ALERT_EVENTS_STORED.labels("ended", "skipped").inc()
            return "skipped"
        ALERT_EVENTS_STORED.labels("ended", "new").inc()
        self._announce(AlertNotice(stored_id, event.camera_id, event.kind, updated=True))
        return "stored"

    def _stored(self, uid: str) -> tuple[int | None, bool]:
        """The stored id of ``uid`` (None: not stored) and whether it has ended. Only this
        consumer writes events of the stream, so the answer holds until its own write."""
        rows = self._store.read(
            "SELECT id, ended_at FROM alerts WHERE uid = ? AND job_id IS NULL", (uid,)
        )
        if not rows:
            return None, False
        return int(rows[0][0]), rows[0][1] is not None

    def _announce(self, notice: AlertNotice) -> None:
        if self._notices is not None:
            self._notices.send(notice)
