"""Retention of alert clips: a kept clip goes when the footage it was cut from has gone.

The dashboard cuts an ended alert's clip once and keeps it as ``clips/alert-ID.mp4``
(:mod:`common.evidence`); an open alert's clip is cut to a scratch file
(``alert-ID.open-*.mp4``) deleted once sent. Here, at each retention sweep, a kept clip is
removed when no recorded segment of its camera overlaps its window any more (recording
retention removed them, by age, budget or free space; footage on legal hold is never
removed, so neither are its clips) or when its alert no longer exists. Scratch files and
half-written clips (``*.partial``) older than an hour are leftovers of a dashboard that
stopped mid-way, and go too. Each removal is logged.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from common import alert_rows, recordings
from common.evidence import alert_clip_window
from common.store import Store

log = logging.getLogger(__name__)
KEPT = re.compile(r"alert-([0-9]+)\.mp4")
LEFTOVER = re.compile(r"alert-[0-9]+\.(open-[0-9a-f]{32}\.mp4|mp4\.[0-9a-f]{32}\.partial)")
LEFTOVER_AGE_S = 3600.0


def remove_aged_clips(store: Store, folder: Path, now: float) -> list[str]:
    """Delete the kept clips whose footage is gone and stale leftovers; returns the names
    of the kept clips deleted."""
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        kept = KEPT.fullmatch(path.name)
        if kept and not _footage_left(store, int(kept[1])):
            path.unlink(missing_ok=True)
            removed.append(path.name)
            log.info("retention (clips): removed %s, its footage is gone", path.name)
        elif LEFTOVER.fullmatch(path.name) and _modified(path) < now - LEFTOVER_AGE_S:
            path.unlink(missing_ok=True)
    return removed


def _footage_left(store: Store, alert_id: int) -> bool:
    alert = alert_rows.alert(store, alert_id)
    if alert is None:
        return False
    start, end = alert_clip_window(alert.started_at, alert.ended_at, alert.started_at)
    return bool(recordings.segments(store, alert.camera_id, start, end))


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")
