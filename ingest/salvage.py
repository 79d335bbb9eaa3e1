"""What a killed recorder leaves behind: salvaged into the index, or removed.

A worker killed mid-segment (``kill -9``, the OOM killer, a power cut) leaves that segment as
a ``.partial`` file that nothing indexes, so retention never deletes it and replay never
shows it. A worker stopped while the store refused writes may also leave finished segments
it could not index (:class:`common.store_retry.WriteQueue` gave up on them).

So a worker, before it reopens its cameras' coverage gaps (a "service down" gap starts where
the recording stops, :meth:`ingest.health.CameraHealth.resume_recording_gap`), looks at the
day folders of each recorded camera from the day before its last indexed segment on:

- ``*.mp4.partial``: the recorder writes fragmented MP4, readable up to its last complete
  fragment (:mod:`ingest.recorder`). What PyAV can read of it, from its first keyframe to its
  last intact packet, is remuxed into a plain MP4 under the segment's own name and indexed:
  start from the name (:func:`ingest.recorder.segment_start`), end = start + the duration
  read. Less than :data:`MIN_SALVAGE_S` (killed in its first second), or nothing readable (a
  plain MP4 of an older version, which has no index until it is closed): deleted.
- ``*.mp4`` that is not in the index: indexed, with the duration read from the file.

Each file is logged and counted in ``matthan_recorder_leftovers_total{camera, outcome}``
(``salvaged``, ``deleted``, ``indexed``). An error on one file is logged and the worker
starts anyway.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from common import recordings
from common.store import Store
from ingest.metrics import RECORDING_LEFTOVERS
from ingest.recorder import PARTIAL_SUFFIX, segment_start

log = logging.getLogger(__name__)
MIN_SALVAGE_S = 0.5
"""Shortest readable part of a ``.partial`` worth keeping, in seconds."""
DAY_S = 86400.0
SALVAGE_SUFFIX = ".salvage"
SUFFIXES = (".mp4", PARTIAL_SUFFIX, SALVAGE_SUFFIX)


@dataclass(frozen=True, slots=True)
class Leftover:
    """What became of one file."""

    camera_id: str
    path: Path
    outcome: str
    """``salvaged``, ``deleted`` or ``indexed``."""
    start: float | None = None
    end: float | None = None


def salvage_leftovers(store: Store, folder: Path, camera_ids: Iterable[str]) -> list[Leftover]:
    """Salvage or remove the leftovers of ``camera_ids`` under the recordings ``folder``."""
    done: list[Leftover] = []
    for camera_id in camera_ids:
        since = recordings.last_segment_end(store, camera_id)
        indexed = {
            Path(segment.path)
            for segment in recordings.segments(store, camera_id, start=(since or 0.0) - DAY_S)
        }
        for path in _recent_files(folder / camera_id, since):
            try:
                leftover = _handle(store, camera_id, path, indexed)
            except Exception:
                log.exception("recording leftover %s not handled", path)
                continue
            if leftover is not None:
                RECORDING_LEFTOVERS.labels(camera_id, leftover.outcome).inc()
                done.append(leftover)
    return done


def _recent_files(camera_folder: Path, since: float | None) -> list[Path]:
    """Segment files (final or partial) in the day folders from the day before ``since``."""
    if not camera_folder.is_dir():
        return []
    first_day = "" if since is None else time.strftime("%Y-%m-%d", time.localtime(since - DAY_S))
    files: list[Path] = []
    for day in sorted(camera_folder.iterdir()):
        if day.is_dir() and day.name >= first_day:
            files += sorted(p for p in day.iterdir() if p.name.endswith(SUFFIXES))
    return files


def _handle(store: Store, camera_id: str, path: Path, indexed: set[Path]) -> Leftover | None:
    if path.name.endswith(SALVAGE_SUFFIX):  # a salvage that was itself cut short
        path.unlink()
        return None
    start = segment_start(path)
    if start is None:
        return None
    if path.name.endswith(PARTIAL_SUFFIX):
        return _salvage(store, camera_id, path, start)
    if path.resolve() in indexed:
        return None
    duration = _readable_span(path)
    if duration is None:
        log.warning("recording %s is not indexed and cannot be read; left as it is", path)
        return None
    _index(store, camera_id, path, start, start + duration)
    log.warning("recording %s was not indexed: indexed (%.1f s)", path, duration)
    return Leftover(camera_id, path, "indexed", start, start + duration)


def _salvage(store: Store, camera_id: str, partial: Path, start: float) -> Leftover:
    final = partial.with_name(partial.name.removesuffix(PARTIAL_SUFFIX))
    fixed = final.with_name(final.name + SALVAGE_SUFFIX)
    try:
        duration = _remux_readable(partial, fixed)
    except (av.FFmpegError, OSError, IndexError) as error:
        log.info("partial %s unreadable: %s", partial, error)
        duration = 0.0
    if duration < MIN_SALVAGE_S:
        fixed.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
        log.warning("partial recording %s deleted (%.1f s readable)", partial, duration)
        return Leftover(camera_id, partial, "deleted")
    os.replace(fixed, final)
    partial.unlink()
    _index(store, camera_id, final, start, start + duration)
    log.warning("partial recording %s salvaged as %s (%.1f s)", partial, final.name, duration)
    return Leftover(camera_id, final, "salvaged", start, start + duration)


def _remux_readable(source_path: Path, out: Path) -> float:
    """Copy the intact packets of ``source_path`` from its first keyframe into a plain MP4
    at ``out``; returns the duration copied (0 if nothing)."""
    with av.open(str(source_path)) as source:
        stream = source.streams.video[0]
        time_base = stream.time_base
        assert time_base is not None
        with av.open(str(out), "w", format="mp4") as output:
            target = output.add_stream_from_template(stream)
            first: int | None = None
            last: int | None = None
            for packet in _intact(source.demux(stream)):
                dts = packet.dts
                assert dts is not None
                if first is None and not packet.is_keyframe:
                    continue
                if last is not None and dts <= last:
                    continue
                first = dts if first is None else first
                last = dts
                packet.stream = target
                output.mux(packet)
    if first is None or last is None:
        return 0.0
    return float((last - first) * time_base)


def _readable_span(path: Path) -> float | None:
    """Seconds from the first to the last intact packet of a finished file; None if unreadable."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            time_base = stream.time_base
            assert time_base is not None
            stamps = [packet.dts for packet in _intact(container.demux(stream))]
    except (av.FFmpegError, OSError, IndexError):
        return None
    valid = [dts for dts in stamps if dts is not None]
    return float((max(valid) - min(valid)) * time_base) if valid else None


def _intact(packets: Iterable[Any]) -> Iterable[Any]:
    """The packets with a time and whole data, until the file's cut end stops the reading."""
    with contextlib.suppress(av.FFmpegError):
        for packet in packets:
            if packet.dts is not None and packet.size > 0 and not packet.is_corrupt:
                yield packet


def _index(store: Store, camera_id: str, path: Path, start: float, end: float) -> None:
    recordings.add_segment(
        store, camera_id, start=start, end=end, path=str(path.resolve()), size=path.stat().st_size
    )
