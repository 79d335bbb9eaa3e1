"""Retention of recordings: by age, by a disk budget, and when the disk is nearly full.

Oldest segments go first. A segment on legal hold, or overlapping an alert of its camera
that is still open, is never deleted. When the disk stays below the free-space floor with
nothing left that may be deleted, a "disk low" alert is raised (and ended once space is
back), so the operator learns that recording is at risk before it stops.

Given the exports folder, each sweep also removes evidence exports older than
``recording.exports_retain_days``, except those whose footage is on legal hold
(:mod:`ingest.export_retention`), and the kept alert clips whose footage has gone
(:mod:`ingest.clip_retention`, in ``clips/`` next to the store).

Investigation sightings and plate reads follow the footage: those of a camera last seen
before the end of a segment removed are removed with it, and all older than
``recording.retain_days`` go by age (a camera that does not record keeps them that long).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from common import plates, recordings, sightings
from common.alert_rows import LiveAlerts, NewAlert
from common.alert_writer import AlertKind, AlertWriter
from common.channel import Channel
from common.config import RecordingConfig
from common.evidence import clips_folder
from common.messages import AlertNotice, Severity
from common.pictures import text_card
from common.store import Store
from ingest.clip_retention import remove_aged_clips
from ingest.export_retention import remove_old_exports
from ingest.metrics import RECORDING_DELETED

log = logging.getLogger(__name__)
DISK_LOW_KIND = AlertKind.DISK_LOW
SITE_WIDE = "*"
GB = 1e9


class RetentionSweeper:
    """Call :meth:`maybe_sweep` often; it sweeps every ``every_s`` seconds."""

    def __init__(
        self,
        store: Store,
        config: RecordingConfig,
        notices: Channel[AlertNotice] | None = None,
        every_s: float = 30.0,
        exports: Path | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._exports = exports
        self._writer = AlertWriter(LiveAlerts(store), notices)
        self._every_s = every_s
        self._last = 0.0
        self._alert_id: int | None = None

    def maybe_sweep(self, now: float) -> None:
        if now - self._last >= self._every_s:
            self._last = now
            self.sweep(now)

    def sweep(self, now: float) -> None:
        """One pass: age, then budget, then free space."""
        cutoff = now - self._config.retain_days * 86400
        for segment in recordings.retention_candidates(self._store, older_than=cutoff):
            self._delete(segment, "age")
        sightings.delete_before(self._store, None, cutoff)
        plates.delete_reads_before(self._store, None, cutoff)
        budget = self._config.max_disk_gb
        if budget is not None:
            self._delete_oldest_while(
                lambda: recordings.recorded_bytes(self._store) > budget * GB, "budget"
            )
        low = self._delete_oldest_while(self._disk_low, "disk_full")
        self._update_alert(low, now)
        if self._exports is not None:
            exports_cutoff = now - self._config.exports_retain_days * 86400
            try:
                remove_old_exports(self._store, self._exports, older_than=exports_cutoff)
            except OSError as error:
                log.error("retention (exports): %s", error)
        try:
            remove_aged_clips(self._store, clips_folder(self._store.path), now)
        except OSError as error:
            log.error("retention (clips): %s", error)

    def _delete_oldest_while(self, condition: Callable[[], bool], reason: str) -> bool:
        """Delete the oldest deletable segments while ``condition()``; True if still true."""
        while condition():
            batch = recordings.retention_candidates(self._store, older_than=None, limit=10)
            if not batch:
                return True
            for segment in batch:
                self._delete(segment, reason)
                if not condition():
                    return False
        return False

    def _disk_low(self) -> bool:
        folder = self._config.path
        folder.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(folder).free < self._config.min_free_gb * GB

    def _delete(self, segment: recordings.Segment, reason: str) -> None:
        Path(segment.path).unlink(missing_ok=True)
        recordings.delete_segment(self._store, segment.id)
        sightings.delete_before(self._store, segment.camera_id, segment.end)
        plates.delete_reads_before(self._store, segment.camera_id, segment.end)
        RECORDING_DELETED.labels(reason).inc()
        log.info("retention (%s): removed %s", reason, segment.path)

    def _update_alert(self, low: bool, now: float) -> None:
        if low and self._alert_id is None:
            free = shutil.disk_usage(self._config.path).free / GB
            detail = f"{free:.1f} GB free on the recordings disk; nothing more may be deleted"
            self._alert_id = self._writer.open(
                NewAlert(
                    camera_id=SITE_WIDE,
                    kind=DISK_LOW_KIND,
                    rule=DISK_LOW_KIND,
                    severity=Severity.CRITICAL,
                    started_at=now,
                    snapshot_jpeg=text_card("DISK LOW", detail),
                )
            )
            log.error("recordings disk low: %s", detail)
        elif not low and self._alert_id is not None:
            self._writer.end(self._alert_id, SITE_WIDE, DISK_LOW_KIND, now)
            self._alert_id = None
