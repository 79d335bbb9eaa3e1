"""Camera health as the operator sees it: states, coverage gaps and "camera offline" alerts.

Every state change is stored as a camera event. Leaving ``online`` opens a coverage gap
(the camera is blind from that moment); coming back closes it. A camera that stays away
longer than the debounce raises a "camera offline" alert, with the last picture it sent;
the alert is ended when the camera is back. Short blips therefore leave a gap in the
record but do not wake the operator.

A worker that starts after the service (or the worker alone) was down also opens a gap, from
the end of the camera's last recorded segment, closed like any other when the camera is online:
nothing was recorded while no process was there to record.

The state changes come from the camera's reader thread, which must never wait on the store
(its stream backs up meanwhile): given a :class:`~common.store_retry.WriteQueue`, their
writes (camera event, gap, the end of the offline or tamper alert and its notice, a new
tamper alert) go through it, in order, retried while the store is busy. The offline alert
is raised from the worker's tick, which retries it at the next tick if the store refused it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from common import camera_states, recordings
from common.alert_rows import LiveAlerts, NewAlert
from common.alert_writer import AlertKind, AlertWriter
from common.channel import Channel
from common.frame_ring import Frame, i420_to_bgr
from common.messages import AlertNotice, CameraState, CameraStatus, Severity
from common.pictures import text_card
from common.store import Store
from common.store_retry import WriteQueue
from ingest.tamper import Tamper

log = logging.getLogger(__name__)
OFFLINE_KIND = AlertKind.CAMERA_OFFLINE
SERVICE_DOWN = "service down"


class CameraHealth:
    """Health bookkeeping for one camera; thread-safe (reader thread + worker tick)."""

    def __init__(
        self,
        camera_id: str,
        store: Store,
        notices: Channel[AlertNotice] | None,
        debounce_s: float,
        *,
        startup_grace_s: float = 0.0,
        writes: WriteQueue | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._store = store
        self._writes = writes
        self._writer = AlertWriter(LiveAlerts(store), notices)
        self._debounce_s = debounce_s
        self._lock = threading.Lock()
        self._state = CameraState.CONNECTING
        # A camera that never comes up counts as away from the start, after a grace for
        # the first connection.
        self._away_since: float | None = time.time() + startup_grace_s
        self._detail = "connecting"
        self._alert_id: int | None = None
        self._last_frame: Frame | None = None
        self._tamper_alerts: dict[Tamper, int] = {}
        self._keyframes_only: bool | None = None

    def resume_recording_gap(self) -> None:
        """Open a "service down" gap from the end of the last segment, if there is one.

        A gap already open (the camera was away when the service stopped) is kept: it covers
        the downtime too.
        """
        last_end = recordings.last_segment_end(self._store, self.camera_id)
        if last_end is not None:
            recordings.open_gap(self._store, self.camera_id, last_end, SERVICE_DOWN)

    def note_frame(self, frame: Frame) -> None:
        """Remember the latest analysis picture (I420, a reference, no copy) for the offline
        alert."""
        self._last_frame = frame

    def report(self, status: CameraStatus) -> None:
        """A state change from the reader: kept in memory first, so that a store that fails
        to record it (locked too long) still leaves the debounce and the alert to come."""
        with self._lock:
            was_online = self._state == CameraState.ONLINE
            self._state = status.state
            if status.state == CameraState.ONLINE:
                self._back_online(status.at)
            elif status.state != CameraState.CONNECTING or was_online:
                self._detail = status.detail or status.state.value
                if self._away_since is None:
                    self._away_since = status.at
                away, detail = self._away_since, self._detail
                self._write(
                    "gap", lambda: recordings.open_gap(self._store, self.camera_id, away, detail)
                )
        self._write("camera_event", lambda: camera_states.add_camera_status(self._store, status))

    def decode_mode(self, keyframes_only: bool) -> None:
        """From the reader: the camera is now decoded keyframes only (idle) or fully. Stored
        when it differs from the last one, for the camera page."""
        with self._lock:
            if keyframes_only == self._keyframes_only:
                return
            self._keyframes_only = keyframes_only
        at = time.time()
        self._write(
            "decode_mode",
            lambda: camera_states.set_decode_mode(self._store, self.camera_id, keyframes_only, at),
        )

    def _write(self, operation: str, write: Callable[[], object]) -> None:
        """Through the write queue if there is one, else now."""
        if self._writes is None:
            write()
        else:
            self._writes.submit(operation, write)

    def _back_online(self, at: float) -> None:
        away, self._away_since = self._away_since, None
        if away is not None and self._alert_id is None and at - away >= self._debounce_s:
            # Away longer than the debounce, but no tick raised the alert in time (the worker's
            # loop was held up: a busy store, an overloaded machine): it is raised now, ended.
            late = self._offline_alert(away)
            self._write("late_offline_alert", lambda: self._late_alert(late, at))
        self._write("gap", lambda: recordings.close_gap(self._store, self.camera_id, at))
        alert_id, self._alert_id = self._alert_id, None
        if alert_id is not None:
            self._write("end_alert", lambda: self._end_alert(alert_id, at, OFFLINE_KIND))
            log.info("camera %s back online; alert %d ended", self.camera_id, alert_id)

    def _end_alert(self, alert_id: int, at: float, kind: str) -> None:
        """End an alert and announce it (after the end is stored)."""
        self._writer.end(alert_id, self.camera_id, kind, at)

    def tick(self, now: float) -> None:
        """Raise the offline alert once the camera has been away for the debounce."""
        with self._lock:
            away = self._away_since
            if away is None or self._alert_id is not None or now - away < self._debounce_s:
                return
            self._alert_id = self._writer.open(self._offline_alert(away))
            log.warning("camera %s offline: %s", self.camera_id, self._detail)

    def _offline_alert(self, away: float) -> NewAlert:
        last = None if self._last_frame is None else i420_to_bgr(self._last_frame)
        return NewAlert(
            camera_id=self.camera_id,
            kind=OFFLINE_KIND,
            rule=OFFLINE_KIND,
            severity=Severity.CRITICAL,
            started_at=away,
            snapshot_jpeg=text_card("OFFLINE", self._detail, last),
        )

    def _late_alert(self, alert: NewAlert, ended_at: float) -> None:
        """Store an offline alert that is already over, and announce it."""
        self._writer.open_ended(alert, ended_at)
        log.warning("camera %s was offline %.0f s", self.camera_id, ended_at - alert.started_at)

    def tamper(self, confirmed: set[Tamper], cleared: set[Tamper], picture: Frame) -> None:
        """Raise an alert for each newly confirmed tamper condition; end the cleared ones."""
        now = time.time()
        with self._lock:
            for kind in confirmed:
                alert = NewAlert(
                    camera_id=self.camera_id,
                    kind=kind.value,
                    rule=kind.value,
                    severity=Severity.WARNING,
                    started_at=now,
                    snapshot_jpeg=text_card("TAMPER", kind.value, picture),
                )
                log.warning("camera %s: %s", self.camera_id, kind.value)
                self._write("add_alert", partial(self._add_tamper, kind, alert))
            for kind in cleared:
                self._write("end_alert", partial(self._end_tamper, kind, now))

    def _add_tamper(self, kind: Tamper, alert: NewAlert) -> None:
        self._tamper_alerts[kind] = self._writer.open(alert)

    def _end_tamper(self, kind: Tamper, at: float) -> None:
        """End the tamper alert of ``kind``; queued after its start, so it finds its id (and
        forgets it only once the end is stored: a retried end finds it again)."""
        alert_id = self._tamper_alerts.get(kind)
        if alert_id is not None:
            self._end_alert(alert_id, at, kind.value)
            del self._tamper_alerts[kind]
