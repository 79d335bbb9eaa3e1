"""The media of a re-analysis job, decoded into the frames live analysis would have seen.

A job looks at a camera's recorded segments over a time range, or at an uploaded file. Both
become a list of :class:`Piece` (a file, and where its media time 0 falls on the wall clock);
:class:`JobMedia` decodes the pieces in order and yields :class:`MediaFrame` s stamped with
wall-clock time, picked and scaled as ingest does for a live camera: sampled at the camera's
analysis rate by timestamp (:class:`ingest.decode.FrameSampler`), scaled to
``ingest.analysis_size`` by the same scaler (:class:`ingest.decode.AnalysisScaler`), and with
frames that no other frame refers to left undecoded when the file runs at twice the analysis
rate or more (:func:`ingest.decode.unreferenced_skip`). Live analysis also skips still scenes
(the motion gate); re-analysis looks at every sampled frame.

Typical use::

    media = recording_media(store, "cong-lang", start, end, clock, fps=5, long_side=640)
    for frame in media.frames():
        ...  # frame.image (BGR), frame.at (wall-clock seconds)
        print(f"{media.progress:.0%}")

A segment a node of the site recorded is fetched from that node when its turn comes
(:func:`common.node_footage.local_path`); a node that cannot be reached makes it a broken one.
A broken recorded segment (missing on disk, unreadable) is skipped and named in
:attr:`JobMedia.skipped`, since the rest of the range is still worth analysing; a broken
upload raises :class:`detect.errors.MediaError` with what PyAV said. An upload is opened with
the demuxer of the container its first bytes name (:mod:`common.containers`), never by letting
FFmpeg guess from untrusted bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import av
import av.error
import cv2

from common import containers, recordings
from common.config import CameraConfig
from common.frame_ring import Frame
from common.messages import FrameRef
from common.node_footage import DEFAULT_TOKEN_ENV, local_path
from common.store import Store
from detect.errors import MediaError
from ingest.decode import AnalysisScaler, FrameSampler, unreferenced_skip
from ingest.motion import Grey, MotionGate, small_grey

SEEK_AFTER_S = 2.0
"""A piece whose wanted part starts this far into the file is entered by seeking to the
keyframe before, rather than decoding its beginning only to throw it away."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One file to decode: its frames between ``since`` and ``until`` (wall clock) are wanted."""

    path: Path
    origin: float
    """Wall-clock time of the file's media time 0."""
    since: float
    until: float
    """Last wanted wall-clock time; ``inf`` for the whole file."""
    seconds: float
    """Media seconds the piece covers, for the progress (0 when unknown)."""
    name: str
    """How an operator reads it in a job's detail: "the segment of 2025-05-01 22:00:00"."""
    demuxer: str | None = None
    """The FFmpeg demuxer to open it with (an upload's); None lets FFmpeg tell (our own
    recordings)."""
    fetch: Callable[[], Path] | None = None
    """How to get the file when its turn comes, instead of ``path`` (a node's segment:
    fetched from the node); raises ``OSError`` when it cannot."""


@dataclass(frozen=True, slots=True, eq=False)
class MediaFrame:
    """One analysis frame: BGR pixels scaled like live frames, and its wall-clock time."""

    image: Frame
    at: float


class MediaGate:
    """The camera's motion gate over a job's frames, saying for each what live ingest would
    have handed over: the gate's reason and the boxes that moved (:class:`FrameRef`)."""

    def __init__(self, camera: CameraConfig) -> None:
        self._camera_id = camera.id
        self._gate = MotionGate(camera.motion)

    def ref(self, frame: MediaFrame) -> FrameRef:
        grey = small_grey(cast(Grey, cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)))
        verdict = self._gate.check(grey, frame.at)
        height, width = frame.image.shape[:2]
        return FrameRef(
            self._camera_id,
            "",
            0,
            0,
            height,
            width,
            frame.at,
            frame.at,
            look=verdict.reason.value,
            moved=verdict.boxes,
        )


class JobMedia:
    """Decodes a job's pieces in order; :meth:`frames` yields the sampled frames."""

    def __init__(
        self, pieces: list[Piece], fps: float, long_side: int, *, skip_broken: bool
    ) -> None:
        self._pieces = pieces
        self._fps = fps
        self._long_side = long_side
        self._skip_broken = skip_broken
        self._total_s = sum(piece.seconds for piece in pieces)
        self._covered_s = 0.0
        self.last_at: float | None = None
        """Wall-clock time of the last frame decoded in the wanted range."""
        self.skipped: list[str] = []
        """The pieces that could not be read, with why (recordings only)."""

    @property
    def progress(self) -> float:
        """Share of the media's seconds decoded so far (0 while the length is unknown)."""
        return min(1.0, self._covered_s / self._total_s) if self._total_s > 0 else 0.0

    def frames(self) -> Iterator[MediaFrame]:
        """The sampled frames of every piece, in order; one sampling grid across pieces, so
        that consecutive segments are sampled as one stream."""
        sampler = FrameSampler(self._fps)
        done_s = 0.0
        for piece in self._pieces:
            try:
                yield from self._decode(piece, sampler, done_s)
            except (OSError, av.error.FFmpegError, MediaError) as error:
                if not self._skip_broken:
                    raise MediaError(f"cannot read {piece.name}: {_reason(error)}") from error
                self.skipped.append(f"{piece.name} ({_reason(error)})")
            done_s += piece.seconds
            self._covered_s = done_s

    def _decode(self, piece: Piece, sampler: FrameSampler, done_s: float) -> Iterator[MediaFrame]:
        scale = AnalysisScaler(self._long_side)
        path = piece.fetch() if piece.fetch is not None else piece.path
        with _open(path, piece.demuxer) as container:
            if not container.streams.video:
                raise MediaError("no video in it")
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = unreferenced_skip(stream, self._fps)
            time_base = stream.time_base
            assert time_base is not None
            into_s = piece.since - piece.origin
            if into_s > SEEK_AFTER_S:
                container.seek(int(into_s / time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                at = piece.origin + float(frame.pts * time_base)
                if at > piece.until:
                    return
                if at < piece.since:
                    continue
                self.last_at = at
                self._covered_s = done_s + min(piece.seconds, at - piece.since)
                if not sampler.due(at):
                    continue
                yield MediaFrame(scale(frame), at)


def recording_media(
    store: Store,
    camera_id: str,
    start: float,
    end: float,
    clock: ZoneInfo,
    *,
    fps: float,
    long_side: int,
    token_env: str = DEFAULT_TOKEN_ENV,
    ca: Path | None = None,
) -> JobMedia:
    """The camera's recorded segments overlapping [start, end], oldest first; gaps between
    them are simply not analysed. MediaError when there is none. A node's segment is fetched
    with the site token in ``token_env`` (over HTTPS verified by ``ca`` on a site with TLS)
    when it is decoded."""
    found = recordings.segments(store, camera_id, start, end)
    if not found:
        raise MediaError(
            f"camera {camera_id!r} has no recordings between {wall_clock(start, clock)}"
            f" and {wall_clock(end, clock)} ({clock.key})",
            "no_recordings",
        )
    pieces = [
        Piece(
            path=Path(segment.path),
            origin=segment.start,
            since=max(segment.start, start),
            until=min(segment.end, end),
            seconds=max(0.0, min(segment.end, end) - max(segment.start, start)),
            name=f"the segment of {wall_clock(segment.start, clock)}",
            fetch=(
                functools.partial(local_path, store, segment, token_env, ca)
                if segment.node is not None
                else None
            ),
        )
        for segment in found
    ]
    return JobMedia(pieces, fps, long_side, skip_broken=True)


def upload_media(
    path: Path, name: str, start: float, *, fps: float, long_side: int
) -> tuple[JobMedia, float | None]:
    """An uploaded file whose first frame is at ``start``, and its duration when the file
    says it. MediaError when it is not there or not a video PyAV can read."""
    described = f"the uploaded file {name!r}"
    if not path.is_file():
        raise MediaError(f"{described} is no longer on disk", "upload_missing")
    try:
        kind = containers.sniff(containers.read_head(path))
        if kind is None:
            raise MediaError(f"it is not an {containers.ACCEPTED} file")
        first_s, duration_s = _probe(path, kind.demuxer)
    except (OSError, av.error.FFmpegError, MediaError) as error:
        raise MediaError(f"cannot read {described}: {_reason(error)}") from error
    if first_s is None:
        raise MediaError(f"{described} has no video")
    piece = Piece(
        path, start - first_s, start, math.inf, duration_s or 0.0, described, kind.demuxer
    )
    return JobMedia([piece], fps, long_side, skip_broken=False), duration_s


def _open(path: Path, demuxer: str | None) -> av.container.InputContainer:
    """``path`` opened with ``demuxer`` (None: FFmpeg tells, for our own recordings), through
    FFmpeg's file protocol only."""
    return av.open(str(path), format=demuxer, container_options=containers.OPEN_OPTIONS)


def _probe(path: Path, demuxer: str) -> tuple[float | None, float | None]:
    """(media time of the first frame, duration in seconds) of the file's video; the first is
    None when the file has no video, the second when the file does not say."""
    with _open(path, demuxer) as container:
        if not container.streams.video:
            return None, None
        stream = container.streams.video[0]
        time_base = stream.time_base
        first_s = 0.0
        duration_s = None
        if time_base is not None and stream.start_time is not None:
            first_s = float(stream.start_time * time_base)
        if time_base is not None and stream.duration:
            duration_s = float(stream.duration * time_base)
        elif container.duration:
            duration_s = container.duration / av.time_base
        return first_s, duration_s


def wall_clock(t: float, clock: ZoneInfo) -> str:
    """``t`` as the station reads it: "2025-05-01 22:00:00" in the site's time zone."""
    return dt.datetime.fromtimestamp(t, clock).strftime("%Y-%m-%d %H:%M:%S")


def _reason(error: BaseException) -> str:
    """What went wrong, without the file's path (the operator knows which file it is)."""
    if isinstance(error, FileNotFoundError):
        return "missing on disk"
    if isinstance(error, av.error.FFmpegError) and error.strerror:
        return str(error.strerror)
    if isinstance(error, MediaError):
        return str(error)
    return f"{type(error).__name__}: {error}"
