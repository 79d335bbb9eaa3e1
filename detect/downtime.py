"""The "analysis down" alert: raised when the detection core dies or hangs, ended when it is back.

The supervisor owns an :class:`AnalysisWatch`. It calls :meth:`AnalysisWatch.went_down` when
the detection process exits (or is killed for hanging), and :meth:`AnalysisWatch.check` on every
tick: once the restarted core beats its heartbeat (``detect`` in :mod:`common.heartbeat`), the
alert is ended at the time of that beat. Meanwhile ingest and recording carry on; only the
analysis is blind, and the alert says so site-wide (camera ``*``).
"""

from __future__ import annotations

import logging
from multiprocessing.queues import Queue

from common.bus import publish_notice
from common.heartbeat import heartbeat_ages
from common.messages import AlertNotice, Severity
from common.pictures import text_card
from common.store import NewAlert, Store

log = logging.getLogger(__name__)

KIND = "analysis_down"
SITE_WIDE = "*"
ROLE = "detect"
HUNG_AFTER_S = 60.0
"""A living core that has not beaten for this long is hung (a batch takes well under 2 s)."""


class AnalysisWatch:
    """Raises and ends the site-wide analysis-down alert from the supervisor process."""

    def __init__(self, store: Store, notices: Queue[AlertNotice]) -> None:
        self._store = store
        self._notices = notices
        self._alert_id: int | None = None
        self._down_since: float | None = None
        heartbeat_ages(store)  # creates the heartbeats table if no role has beaten yet

    @property
    def alert_id(self) -> int | None:
        """The open alert, if analysis is down."""
        return self._alert_id

    def went_down(self, at: float, detail: str) -> None:
        """The core died at ``at`` (wall clock); raise the alert unless one is open."""
        if self._alert_id is not None:
            return
        alert = NewAlert(
            camera_id=SITE_WIDE,
            kind=KIND,
            rule=KIND,
            severity=Severity.CRITICAL,
            started_at=at,
            snapshot_jpeg=text_card("ANALYSIS DOWN", detail),
        )
        self._alert_id = self._store.add_alert(alert)
        self._down_since = at
        log.error("analysis down (%s): alert %d", detail, self._alert_id)
        self._publish(AlertNotice(self._alert_id, SITE_WIDE, KIND))

    def check(self) -> None:
        """End the open alert once the core has beaten since it went down."""
        if self._alert_id is None or self._down_since is None:
            return
        beat = self.last_beat()
        if beat is None or beat <= self._down_since:
            return
        self._store.end_alert(self._alert_id, beat)
        log.info("analysis back: alert %d ended", self._alert_id)
        self._publish(AlertNotice(self._alert_id, SITE_WIDE, KIND, updated=True))
        self._alert_id = self._down_since = None

    def _publish(self, notice: AlertNotice) -> None:
        publish_notice(self._notices, notice)

    def last_beat(self) -> float | None:
        """Wall-clock time of the detection core's last heartbeat, if it ever beat."""
        rows = self._store.read("SELECT at FROM heartbeats WHERE role = ?", (ROLE,))
        return float(rows[0]["at"]) if rows else None

    def is_hung(self, started_at: float, now: float) -> bool:
        """Whether a core started at ``started_at`` beat since, but not in :data:`HUNG_AFTER_S`."""
        beat = self.last_beat()
        return beat is not None and beat >= started_at and now - beat > HUNG_AFTER_S
