"""The "analysis down" alert: raised when the detection core dies or hangs, ended when it is back.

The supervisor owns an :class:`AnalysisWatch`. It calls :meth:`AnalysisWatch.went_down` when
the detection process exits (or is killed for hanging), and :meth:`AnalysisWatch.check` on every
tick: once the restarted core beats its heartbeat (``detect`` in :mod:`common.heartbeat`), the
alert is ended at the time of that beat. Meanwhile ingest and recording carry on; only the
analysis is blind, and the alert says so site-wide (camera ``*``).

The supervisor must not take a store that refuses writes for a hung core. While another
connection holds the store's write lock, no role can beat (:mod:`common.heartbeat`) and the
core waits on its alert writes until they commit (:mod:`common.store_retry`); the supervisor
itself still reads the beats (WAL readers are never blocked) and sees them grow old. So it
probes, on every check, whether it could write (:meth:`common.store.Store.can_write`, waiting
at most :data:`STORE_PROBE_TIMEOUT_S`), and counts a core's silence only from the last moment
the store was refusing writes: a core is hung once it had :data:`HUNG_AFTER_S` of writable
store to beat in and did not. Right after a long lock clears, the core's beat is as old as the
lock, but its silence counts from zero; it beats within a batch or two, as its first beat is
tried at once (a skipped beat is not rate-limited). A core that really hangs is still killed,
:data:`HUNG_AFTER_S` after its last beat or after the store was last busy, whichever is later.

The supervisor's own writes (raise, end) can fail the same way, after its store's busy
timeout. :meth:`AnalysisWatch.went_down` keeps the outage in memory first and logs a refused
alert, which a later :meth:`AnalysisWatch.check` raises; an end that fails is raised to the
supervisor's loop (logged there) and tried again at the next tick. The supervisor does not
retry in place: it also restarts the roles, and must not sit in a retry meanwhile.
"""

from __future__ import annotations

import logging
import sqlite3

from common.alert_rows import LiveAlerts, NewAlert
from common.alert_writer import AlertKind, AlertWriter
from common.channel import Channel
from common.messages import AlertNotice, Severity
from common.pictures import text_card
from common.roles import DETECT_ROLE
from common.store import Store

log = logging.getLogger(__name__)

KIND = AlertKind.ANALYSIS_DOWN
SITE_WIDE = "*"
HUNG_AFTER_S = 60.0
"""A living core that has not beaten for this long is hung (a batch takes well under 2 s)."""
STORE_PROBE_TIMEOUT_S = 1.0
"""How long the hung check's probe waits for the write lock: a normal write holds it for
milliseconds, so a store still taken after this is held by something else."""


class AnalysisWatch:
    """Raises and ends the site-wide analysis-down alert from the supervisor process."""

    def __init__(self, store: Store, notices: Channel[AlertNotice] | None) -> None:
        self._store = store
        self._writer = AlertWriter(LiveAlerts(store), notices)
        self._alert_id: int | None = None
        self._down_since: float | None = None
        self._detail = ""
        self._store_busy_at = 0.0
        """When the store was last seen refusing writes (wall clock; 0: never)."""

    @property
    def alert_id(self) -> int | None:
        """The open alert, if analysis is down."""
        return self._alert_id

    def went_down(self, at: float, detail: str) -> None:
        """The core died at ``at`` (wall clock); raise the alert unless one is open.

        The outage is remembered before the alert is stored: if the store refuses the alert
        (locked past its busy timeout), that is logged and :meth:`check` raises it later."""
        if self._down_since is not None:
            return
        self._down_since, self._detail = at, detail
        self._raise_alert()

    def _raise_alert(self) -> None:
        assert self._down_since is not None
        alert = NewAlert(
            camera_id=SITE_WIDE,
            kind=KIND,
            rule=KIND,
            severity=Severity.CRITICAL,
            started_at=self._down_since,
            snapshot_jpeg=text_card("ANALYSIS DOWN", self._detail),
        )
        try:
            self._alert_id = self._writer.open(alert)
        except sqlite3.Error as error:
            log.error("analysis down (%s); alert not stored yet: %s", self._detail, error)
            return
        log.error("analysis down (%s): alert %d", self._detail, self._alert_id)

    def check(self) -> None:
        """Raise the alert if the store refused it before; end it once the core has beaten
        since it went down."""
        if self._down_since is None:
            return
        if self._alert_id is None:
            self._raise_alert()
            if self._alert_id is None:
                return
        beat = self.last_beat()
        if beat is None or beat <= self._down_since:
            return
        self._writer.end(self._alert_id, SITE_WIDE, KIND, beat)
        log.info("analysis back: alert %d ended", self._alert_id)
        self._alert_id = self._down_since = None

    def last_beat(self) -> float | None:
        """Wall-clock time of the detection core's last heartbeat, if it ever beat."""
        rows = self._store.read("SELECT at FROM heartbeats WHERE role = ?", (DETECT_ROLE,))
        return float(rows[0]["at"]) if rows else None

    def is_hung(self, started_at: float, now: float) -> bool:
        """Whether a core started at ``started_at`` beat since, but then stayed silent for
        :data:`HUNG_AFTER_S` of a store that took writes (see the module's docstring).

        Call it on every tick: each call probes the store and remembers when it was busy."""
        if not self._store.can_write(STORE_PROBE_TIMEOUT_S):
            self._store_busy_at = now
        beat = self.last_beat()
        if beat is None or beat < started_at:
            return False
        return now - max(beat, self._store_busy_at) > HUNG_AFTER_S
