"""A node's relay from its own store to the station's alert stream: commit first, then send.

The node's roles store alerts and camera states exactly as on a single machine (through the
one :class:`common.alert_writer.AlertWriter`, committed before anything is announced). This
relay reads what is new in that store (:mod:`common.alert_outbox`) and publishes it to the
alert stream, oldest first, moving its cursor only once the stream holds each event. So an
alert committed on the node reaches the station even when the stream, the link or the node
itself was down in between, and one sent twice (a crash between the publish and the cursor)
is dropped by the stream (message id) or by the station's store (the uid).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

import nats.errors

from common import alert_outbox
from common.store import Store
from matthan.cluster.alert_events import SegmentRecorded, SegmentRemoved
from matthan.cluster.alert_stream import AlertPublisher

log = logging.getLogger(__name__)

POLL_S = 0.05
"""How often the store is asked for what is new: the floor of an alert's delivery time."""
RETRY_S = 1.0
"""The wait after the stream did not take an event (down, or the link cut)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """What one step published."""

    opened: int = 0
    ended: int = 0
    camera_events: int = 0
    segments: int = 0
    removals: int = 0

    @property
    def any(self) -> bool:
        return bool(
            self.opened or self.ended or self.camera_events or self.segments or self.removals
        )


class AlertOutbox:
    """Publishes the node store's new alerts, their ends, its camera events and, when it
    knows the ``node``'s name, the segments it recorded and those it deleted since (the
    station's index follows)."""

    def __init__(self, store: Store, publisher: AlertPublisher, *, node: str | None = None) -> None:
        self._store = store
        self._publisher = publisher
        self._node = node
        self._at = alert_outbox.cursor(store)

    @property
    def origin(self) -> str:
        """The node store's origin: every alert uid it sends begins ``<origin>-``."""
        return self._at.origin

    def step(self) -> Sent:
        """Publish everything pending now; raises (``TimeoutError``, a nats error) where the
        stream did not confirm an event: the cursor stays before it and the next step sends
        it again."""
        opened = 0
        for pending in alert_outbox.pending_opens(self._store, self._at):
            self._publisher.opened(pending.alert)
            alert_outbox.advance(self._store, opened_through=pending.row_id)
            self._at = replace(self._at, opened_through=pending.row_id)
            opened += 1
        events = 0
        for event in alert_outbox.pending_camera_events(self._store, self._at):
            self._publisher.camera_changed(event.uid, event.status)
            alert_outbox.advance(self._store, events_through=event.row_id)
            self._at = replace(self._at, events_through=event.row_id)
            events += 1
        ended = 0
        for end in alert_outbox.pending_ends(self._store, self._at):  # of the alerts sent
            self._publisher.ended(end.camera_id, end.kind, end.uid, end.ended_at)
            alert_outbox.advance(self._store, ended=(end.ended_at, end.row_id))
            self._at = replace(self._at, ended_at=end.ended_at, ended_id=end.row_id)
            ended += 1
        return Sent(opened, ended, events, self._send_segments(), self._send_removals())

    def _send_segments(self) -> int:
        """Announce the segments finished since the last step (none without a node name)."""
        if self._node is None:
            return 0
        sent = 0
        for segment in alert_outbox.pending_segments(self._store, self._at):
            self._publisher.segment_recorded(
                SegmentRecorded(
                    site=self._publisher.site,
                    uid=segment.uid,
                    camera_id=segment.camera_id,
                    node=self._node,
                    remote_id=segment.row_id,
                    start=segment.start,
                    end=segment.end,
                    bytes=segment.bytes,
                )
            )
            alert_outbox.advance(self._store, segments_through=segment.row_id)
            self._at = replace(self._at, segments_through=segment.row_id)
            sent += 1
        return sent

    def _send_removals(self) -> int:
        """Announce the announced segments deleted since (after the segments: a segment
        recorded and deleted in one step reaches the station in that order)."""
        if self._node is None:
            return 0
        sent = 0
        for removal in alert_outbox.pending_removals(self._store, self._at):
            self._publisher.segment_removed(
                SegmentRemoved(
                    site=self._publisher.site,
                    uid=removal.uid,
                    camera_id=removal.camera_id,
                    node=self._node,
                    remote_id=removal.segment_id,
                )
            )
            alert_outbox.removal_sent(self._store, removal.row_id)
            sent += 1
        return sent

    def run(self, stop: threading.Event, poll_s: float = POLL_S) -> None:
        """Relay until ``stop``, then once more (what the node stored while stopping)."""
        while not stop.is_set():
            sent = self._step_logged()
            if sent is None:
                stop.wait(RETRY_S)
            elif not sent.any:
                stop.wait(poll_s)
        self._step_logged()

    def _step_logged(self) -> Sent | None:
        try:
            return self.step()
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("outbox: the alert stream did not take an event (%s); trying again", exc)
            return None
