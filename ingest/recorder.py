"""Record a camera's stream as MP4 segments by remuxing its packets: no decode, no encode.

Each segment starts on a keyframe, so it plays on its own, and is cut at the first
keyframe after ``segment_s``. It is written under a temporary name (``.partial``) and renamed
when it is complete, so a crash never leaves a half-written file under a real name; only then
is it handed to ``on_segment`` (the worker indexes it in the store) with its wall-clock start
and end. An error of ``on_segment`` is logged and never reaches the reader.

Segments are fragmented MP4 (:data:`MP4_OPTIONS`): the header first, then a fragment (its own
index and data) about every second. A plain MP4 keeps its only index at the end, written when
the file is closed, so a process killed mid-segment (``kill -9``, power cut) left a file no
player can open. A fragmented one is readable up to its last complete fragment, and the next
worker salvages it (:mod:`ingest.salvage`). Browsers and PyAV play and seek both kinds.

A segment that cannot be written (the disk is full, the folder vanished) is abandoned and
its partial file removed; recording pauses for :data:`PAUSE_AFTER_ERROR_S` and then starts a
new segment on a keyframe. The error never reaches the camera's reader, so analysis of the
camera carries on while its recording is down (retention frees space or raises "disk low").

Usage (three calls, as remuxing is in PyAV)::

    recorder = SegmentRecorder(camera_id, folder, segment_s, on_segment)
    for packet in container.demux(stream):
        recorder.write(packet, stream)
    recorder.close()
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ingest.metrics import RECORDED_BYTES, RECORDING_ERRORS, SEGMENTS_WRITTEN

log = logging.getLogger(__name__)
PAUSE_AFTER_ERROR_S = 5.0
PARTIAL_SUFFIX = ".partial"
MP4_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
"""Fragmented MP4: a new fragment at each keyframe and at least every second (microseconds),
each handed to the disk as soon as it is complete (not left in a 256 KB write buffer), so a
crash loses about a second of the segment being written, not all of it."""


@dataclass(frozen=True, slots=True)
class FinishedSegment:
    """A complete segment file, ready to be indexed."""

    camera_id: str
    path: Path
    start: float
    end: float
    size: int


SegmentSink = Callable[[FinishedSegment], None]


def segment_path(folder: Path, camera_id: str, wall: float) -> Path:
    """Where a segment starting at ``wall`` goes: ``CAMERA/YYYY-MM-DD/HHMMSS-mmm.mp4``, in
    local time (the name says when it starts; :func:`segment_start` reads it back)."""
    local = time.localtime(wall)
    name = time.strftime("%H%M%S", local) + f"-{int(wall * 1000) % 1000:03d}.mp4"
    return folder / camera_id / time.strftime("%Y-%m-%d", local) / name


def segment_start(path: Path) -> float | None:
    """The wall-clock start of the segment at ``path`` (final or ``.partial``), from its day
    folder and name; None if they are not a segment's."""
    stem = path.name.removesuffix(PARTIAL_SUFFIX).removesuffix(".mp4")
    clock, _, millis = stem.partition("-")
    try:
        local = time.strptime(f"{path.parent.name} {clock}", "%Y-%m-%d %H%M%S")
        fraction = int(millis) / 1000 if len(millis) == 3 else None
    except ValueError:
        return None
    return None if fraction is None else time.mktime(local) + fraction


class _OpenSegment:
    """The MP4 being written: output container, its stream and timing."""

    def __init__(self, final: Path, template: av.VideoStream, first_dts: int, wall: float):
        self.final = final
        self.partial = final.with_name(final.name + PARTIAL_SUFFIX)
        self.output = av.open(str(self.partial), "w", format="mp4", options=MP4_OPTIONS)
        self.stream = self.output.add_stream_from_template(template)
        self.first_dts = first_dts
        self.last_dts = first_dts
        self.muxed = False
        self.wall_start = wall
        self.time_base: Fraction = template.time_base or Fraction(1, 90000)

    def duration(self) -> float:
        return float((self.last_dts - self.first_dts) * self.time_base)


class SegmentRecorder:
    """Remuxes one camera's packets into rolling MP4 segments."""

    def __init__(
        self, camera_id: str, folder: Path, segment_s: float, on_segment: SegmentSink
    ) -> None:
        self.camera_id = camera_id
        self.folder = folder
        self.segment_s = segment_s
        self._on_segment = on_segment
        self._segment: _OpenSegment | None = None
        self._bytes = RECORDED_BYTES.labels(camera_id)
        self._paused_until = 0.0

    def write(self, packet: av.Packet[Any], stream: av.VideoStream) -> None:
        """Add one demuxed packet; starts and cuts segments on keyframes."""
        dts = packet.dts
        if dts is None or packet.size == 0 or self._paused():
            return
        try:
            self._write(packet, stream, dts)
        except OSError as error:
            self._abandon(error)

    def _paused(self) -> bool:
        return time.monotonic() < self._paused_until

    def _write(self, packet: av.Packet[Any], stream: av.VideoStream, dts: int) -> None:
        segment = self._segment
        if segment is not None and packet.is_keyframe and segment.duration() >= self.segment_s:
            self.close()
            segment = None
            if self._paused():  # the segment could not be finished
                return
        if segment is None:
            if not packet.is_keyframe:
                return
            segment = self._segment = self._open(stream, dts)
        if segment.muxed and dts <= segment.last_dts:
            return
        size = packet.size
        packet.pts = (packet.pts if packet.pts is not None else dts) - segment.first_dts
        packet.dts = dts - segment.first_dts
        segment.last_dts = dts
        segment.muxed = True
        packet.stream = segment.stream
        segment.output.mux(packet)
        self._bytes.inc(size)

    def _open(self, stream: av.VideoStream, first_dts: int) -> _OpenSegment:
        wall = time.time()
        final = segment_path(self.folder, self.camera_id, wall)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _OpenSegment(final, stream, first_dts, wall)
        except OSError:
            final.with_name(final.name + PARTIAL_SUFFIX).unlink(missing_ok=True)
            raise

    def _abandon(self, error: OSError) -> None:
        """Give up the open segment after a write error, and pause recording for a while."""
        segment, self._segment = self._segment, None
        if segment is not None:
            # Closing writes the file's index, which fails again for the reason logged below.
            with contextlib.suppress(OSError):
                segment.output.close()
            segment.partial.unlink(missing_ok=True)
        self._paused_until = time.monotonic() + PAUSE_AFTER_ERROR_S
        RECORDING_ERRORS.labels(self.camera_id).inc()
        log.error(
            "recording of %s paused for %.0f s: %s", self.camera_id, PAUSE_AFTER_ERROR_S, error
        )

    def close(self) -> None:
        """Finish the open segment (if any): close, rename, index."""
        segment = self._segment
        if segment is None:
            return
        try:
            segment.output.close()
        except OSError as error:
            self._abandon(error)
            return
        self._segment = None
        if segment.duration() <= 0:
            segment.partial.unlink(missing_ok=True)
            return
        os.replace(segment.partial, segment.final)
        finished = FinishedSegment(
            camera_id=self.camera_id,
            path=segment.final,
            start=segment.wall_start,
            end=segment.wall_start + segment.duration(),
            size=segment.final.stat().st_size,
        )
        SEGMENTS_WRITTEN.labels(self.camera_id).inc()
        try:
            self._on_segment(finished)
        except Exception:
            # Raised into the reader it would end its thread (close() runs in its finally).
            # The file stays; the next worker indexes what it finds unindexed.
            log.exception("segment %s of %s not indexed", finished.path, self.camera_id)
