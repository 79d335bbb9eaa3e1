"""Alerts have one owner: every producer opens and ends alerts through an :class:`AlertWriter`.

The rules of the detection core (:mod:`detect.alerts`), the watch-listed plates
(:mod:`detect.plates.worker`), camera health and tamper (:mod:`ingest.health`), the recordings
disk (:mod:`ingest.retention`) and the supervisor's analysis-down watch
(:mod:`matthan.analysis_watch`) all do the same two things, in the same order:

1. **commit** the alert (or its end) to the sink: the store's live alerts, or a re-analysis
   job's findings (:class:`common.jobs.JobAlertSink`: rows of the same table with the job's
   id, which no live query answers);
2. **then announce** it on the notices channel (:class:`common.messages.AlertNotice`), so that
   whatever the dashboard shows is already durable; a notice lost on the way is recovered by
   the dashboard reading the store.

Every kind of alert is an :class:`AlertKind`, here and nowhere else. A producer that gives
its alert a ``uid`` (:attr:`common.store.NewAlert.uid`) can send it twice and get one alert:
the multi-node alert stream relies on that.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from common.messages import AlertNotice

if TYPE_CHECKING:
    from common.alert_rows import NewAlert
    from common.channel import Channel


class AlertKind(StrEnum):
    """What an alert is about; the page translates each (``kind_<value>``)."""

    INTRUSION = "intrusion"
    LOITERING = "loitering"
    LINE_CROSSING = "line_crossing"
    CROWD = "crowd"
    PLATE_WATCH = "plate_watch"
    """A read plate matched the watch list (:mod:`detect.plates.worker`)."""
    CAMERA_OFFLINE = "camera_offline"
    TAMPER_COVERED = "tamper_covered"
    TAMPER_BLURRED = "tamper_blurred"
    TAMPER_MOVED = "tamper_moved"
    TAMPER_FROZEN = "tamper_frozen"
    DISK_LOW = "disk_low"
    ANALYSIS_DOWN = "analysis_down"


ANALYSIS_KINDS = (
    AlertKind.INTRUSION,
    AlertKind.LOITERING,
    AlertKind.LINE_CROSSING,
    AlertKind.CROWD,
    AlertKind.PLATE_WATCH,
)
"""The kinds the detection core raises and keeps open in its memory: a new core ends those a
dead one left open (:meth:`detect.alerts.AlertKeeper.end_orphans`)."""


class AlertSink(Protocol):
    """Where alerts are committed: the live alerts (:class:`~common.store.Store`) or the
    findings of a re-analysis job (:class:`~common.jobs.JobAlertSink`)."""

    def add_alert(self, alert: NewAlert, /) -> int: ...

    def end_alert(self, alert_id: int, ended_at: float, /) -> None: ...


class AlertWriter:
    """Opens and ends alerts in ``sink``, announcing each on ``notices`` after the commit
    (nothing is announced without a channel: re-analysis findings are not events of now)."""

    def __init__(self, sink: AlertSink, notices: Channel[AlertNotice] | None) -> None:
        self._sink = sink
        self._notices = notices

    def open(self, alert: NewAlert) -> int:
        """Commit a new alert, then announce it; returns its id."""
        alert_id = self._sink.add_alert(alert)
        self._announce(AlertNotice(alert_id, alert.camera_id, alert.kind))
        return alert_id

    def end(self, alert_id: int, camera_id: str, kind: str, at: float) -> None:
        """Commit that the alert's situation ended at ``at``, then announce the change."""
        self._sink.end_alert(alert_id, at)
        self._announce(AlertNotice(alert_id, camera_id, kind, updated=True))

    def open_ended(self, alert: NewAlert, ended_at: float) -> int:
        """Commit an alert that is already over (both its start and end), then announce it
        once; returns its id."""
        alert_id = self._sink.add_alert(alert)
        self._sink.end_alert(alert_id, ended_at)
        self._announce(AlertNotice(alert_id, alert.camera_id, alert.kind))
        return alert_id

    def _announce(self, notice: AlertNotice) -> None:
        if self._notices is not None:
            self._notices.send(notice)
