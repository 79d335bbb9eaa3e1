"""Clips and evidence packages cut from recorded segments, without re-encoding.

:func:`cut_clip` remuxes the packets of one camera's segments that fall in a wall-clock
window into a single MP4. It starts on the keyframe at or before the window's start, so
the clip plays from its first frame, and its timestamps run on across segment joins.

The dashboard's export does that for several cameras and :func:`write_manifest` writes a
manifest with the SHA-256 of every file, who exported and why: what a police station hands
over as evidence. Files are hashed as they are read, in chunks (:func:`file_sha256`): an
hour of footage never sits in memory.

An alert's clip (:func:`alert_clip_window`) is cut once, after the alert has ended, and
kept in ``clips/`` next to the store as ``alert-ID.mp4`` (:func:`stored_clip`) until
retention removes the footage it was cut from (:mod:`ingest.clip_retention`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av

from common.recordings import Segment

EXPORTS_FOLDER = "exports"
CLIPS_FOLDER = "clips"
PRE_ROLL_S = 10.0
POST_ROLL_S = 10.0
OPEN_ALERT_CLIP_S = 60.0
"""An alert still open is clipped up to this long after its start (plus the post-roll)."""


def exports_folder(database: Path) -> Path:
    """Where evidence exports are kept: ``exports/`` next to the store. Each export is a
    folder named by its id (MP4 files and ``manifest.json``), and ``ID.zip`` once someone
    downloaded it whole; retention removes them after ``recording.exports_retain_days``."""
    return database.resolve().parent / EXPORTS_FOLDER


def clips_folder(database: Path) -> Path:
    """Where alert clips are kept: ``clips/`` next to the store."""
    return database.resolve().parent / CLIPS_FOLDER


def stored_clip(folder: Path, alert_id: int) -> Path:
    """The clip of an ended alert, cut once and kept."""
    return folder / f"alert-{alert_id}.mp4"


def alert_clip_window(started_at: float, ended_at: float | None, now: float) -> tuple[float, float]:
    """From ``PRE_ROLL_S`` before the alert to ``POST_ROLL_S`` after it ended (an open
    alert: after now, at most ``OPEN_ALERT_CLIP_S`` past its start)."""
    end = ended_at if ended_at is not None else min(now, started_at + OPEN_ALERT_CLIP_S)
    return started_at - PRE_ROLL_S, end + POST_ROLL_S


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks (memory stays small whatever the file's size)."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


class NoFootageError(LookupError):
    """Nothing was recorded in the requested window."""


@dataclass(frozen=True, slots=True)
class ClipFile:
    """One exported MP4 and what it covers."""

    camera_id: str
    name: str
    start: float
    end: float
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class PackageFile:
    """Another file of a package (a snapshot, notes, an audit trail), listed in the manifest
    like a clip: ``camera_id`` is the camera it shows (empty for none) and ``start``/``end``
    the moment it shows, so retention's hold check reads every entry the same way."""

    name: str
    bytes: int
    sha256: str
    camera_id: str = ""
    start: float = 0.0
    end: float = 0.0

    @classmethod
    def of(cls, path: Path, camera_id: str = "", at: float = 0.0) -> PackageFile:
        """The file at ``path``, sized and hashed now."""
        return cls(path.name, path.stat().st_size, file_sha256(path), camera_id, at, at)


def _packets_in_window(segment: Segment, start: float, end: float) -> Any:
    """Yield (packet, seconds from segment start) for packets overlapping the window,
    beginning at the last keyframe before ``start``."""
    with av.open(segment.path) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        assert time_base is not None
        pending: list[tuple[av.Packet[Any], float]] = []
        for packet in container.demux(stream):
            if packet.dts is None or packet.size == 0:
                continue
            offset = float(packet.dts * time_base)
            wall = segment.start + offset
            if wall > end:
                break
            if wall < start:
                pending = [(packet, offset)] if packet.is_keyframe else [*pending, (packet, offset)]
                continue
            yield from pending
            pending = []
            yield packet, offset


def cut_clip(segments: Sequence[Segment], start: float, end: float, out: Path) -> ClipFile:
    """Write the window [start, end] of one camera's ``segments`` (oldest first) to ``out``."""
    covering = [s for s in segments if s.end >= start and s.start <= end]
    if not covering:
        raise NoFootageError(f"no recording between {start:.0f} and {end:.0f}")
    partial = out.with_name(f"{out.name}.{uuid.uuid4().hex}.partial")  # own name per cut
    first_wall: float | None = None
    last_wall = start
    with av.open(str(partial), "w", format="mp4") as output:
        with av.open(covering[0].path) as template:
            stream = output.add_stream_from_template(template.streams.video[0])
        time_base = stream.time_base
        last_dts = -1
        for segment in covering:
            for packet, offset in _packets_in_window(segment, start, end):
                wall = segment.start + offset
                first_wall = wall if first_wall is None else first_wall
                assert time_base is not None
                dts = round((wall - first_wall) / time_base)
                if dts <= last_dts:
                    continue
                packet.dts = packet.pts = dts
                packet.stream = stream
                output.mux(packet)
                last_dts, last_wall = dts, wall
    if first_wall is None:
        partial.unlink(missing_ok=True)
        raise NoFootageError(f"no recording between {start:.0f} and {end:.0f}")
    clip = ClipFile(
        camera_id=covering[0].camera_id,
        name=out.name,
        start=first_wall,
        end=last_wall,
        bytes=partial.stat().st_size,
        sha256=file_sha256(partial),
    )
    os.replace(partial, out)
    return clip


def write_manifest(
    folder: Path,
    files: Sequence[ClipFile],
    exported_by: str,
    reason: str,
    window: tuple[float, float],
    *,
    others: Sequence[PackageFile] = (),
    facts: Mapping[str, object] | None = None,
) -> Path:
    """The package's manifest: every file with its SHA-256, who exported it and why.

    ``others`` are files of the package besides the clips (listed after them), ``facts``
    more top-level keys (a case's package names its case: :mod:`dashboard.services.case_export`)."""
    manifest = {
        **(facts or {}),
        "exported_by": exported_by,
        "reason": reason,
        "exported_at": time.time(),
        "window": {"start": window[0], "end": window[1]},
        "hash": "sha256",
        "files": [asdict(file) for file in files] + [asdict(file) for file in others],
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
