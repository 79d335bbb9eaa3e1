"""Decoding shared by the live camera reader and re-analysis: what is decoded, which decoded
frames are analysed, and how a decoded frame becomes the analysis picture.

:mod:`ingest.camera_reader` (live cameras) and :mod:`detect.job_media` (recorded segments and
uploaded files) decode through the same pieces, so that a file re-analysed gives the frames a
live camera would have given:

- the samplers pick frames by presentation time: :class:`FrameSampler` at a steady rate,
  :class:`BurstSampler` faster for a moment when motion starts;
- the frame-skip policy leaves frames undecoded that analysis would never take:
  :func:`unreferenced_skip` for a stream well above the analysis rate, and
  :class:`DecodePolicy` (live cameras) keyframes only for a camera idle a while;
- :class:`AnalysisScaler` turns a decoded ``av.VideoFrame`` into the analysis picture (BGR,
  long side at most ``ingest.analysis_size``), and :func:`luma` gives the motion gate its
  grey plane without a copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, cast

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from common.frame_ring import Frame, i420_to_bgr
from ingest.metrics import KEYFRAMES_ONLY
from ingest.motion import Grey
from ingest.source import CameraSource


class FrameSampler:
    """``due(t)`` says whether the frame at stream time ``t`` (seconds) is analysed.

    Frames are chosen on a grid of ``1/fps`` so that a 10 fps stream sampled at 5 fps
    gives every second frame. After a jump in time (a reconnect, a loop of the source) the
    grid restarts at the new time instead of letting a burst of frames through.
    """

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next: float | None = None

    def due(self, t: float) -> bool:
        tolerance = self.period * 0.1
        if self._next is None or t < self._next - 2 * self.period:
            self._next = t
        if t + tolerance < self._next:
            return False
        late = t - self._next
        self._next = self._next + self.period if late < self.period else t + self.period
        return True

    def restart(self, t: float) -> None:
        """Restart the grid at ``t``, as if the frame at ``t`` had just been taken."""
        self._next = t + self.period


class BurstSampler:
    """Samples at ``fps``, and at ``burst_fps`` for ``burst_s`` seconds after :meth:`burst`.

    When motion starts, the tracker gains most from a few quick looks: a newcomer is placed
    and given a direction within its first second instead of its first few seconds. A burst
    during a burst extends it. The faster grid never runs above the decoded rate: each
    decoded frame is taken at most once (the camera's decoding must not skip frames while
    :meth:`bursting`). A ``burst_fps`` no faster than ``fps``, or a ``burst_s`` of 0, never
    bursts. After the burst the steady grid restarts at the first frame due.
    """

    def __init__(self, fps: float, burst_fps: float, burst_s: float) -> None:
        self._steady = FrameSampler(fps)
        self._fast = FrameSampler(max(fps, burst_fps))
        self._burst_s = burst_s if burst_fps > fps else 0.0
        self._start = self._end = -math.inf

    def due(self, t: float) -> bool:
        """Whether the frame at stream time ``t`` (seconds) is analysed."""
        return self._fast.due(t) if self.bursting(t) else self._steady.due(t)

    def burst(self, t: float) -> bool:
        """Sample fast for ``burst_s`` from the frame at ``t`` on (that frame was taken);
        True if this starts a burst (False: one was on and is extended, or bursts are off)."""
        if self._burst_s <= 0.0:
            return False
        started = not self.bursting(t)
        if started:
            self._start = t
            self._fast.restart(t)
        self._end = t + self._burst_s
        return started

    def bursting(self, t: float) -> bool:
        """Whether ``t`` falls in a burst (a jump back in time, as when a source loops, ends it)."""
        return self._start <= t < self._end


def scaled_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Scale so that the long side is at most ``long_side``; even sizes for the scaler."""
    scale = min(1.0, long_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class AnalysisScaler:
    """Turns decoded frames into analysis pictures, scaled by :func:`scaled_size` so that the
    long side is at most ``long_side`` (never up), with even sides.

    :meth:`i420` gives the picture as planar YUV 4:2:0 (I420: the Y plane, then U, then V, in
    one array of ``height * 3 / 2`` rows): that is what the decoder made, so a frame already
    small enough is taken as it is, half the bytes of BGR, and the BGR conversion is left to
    whoever uses the picture (the detection core, for the frames it analyses).
    ``scaler(frame)`` gives BGR through the same path, so that re-analysis sees the very pixels
    the live core sees. Keep one per stream: its reformatter reuses the scaling context.
    """

    def __init__(self, long_side: int) -> None:
        self.long_side = long_side
        self._reformatter = VideoReformatter()

    def i420(self, frame: av.VideoFrame) -> Frame:
        width, height = scaled_size(frame.width, frame.height, self.long_side)
        width, height = width - width % 2, height - height % 2
        if (width, height) != (frame.width, frame.height) or frame.format.name != "yuv420p":
            frame = self._reformatter.reformat(frame, width, height, "yuv420p")
        return cast(Frame, frame.to_ndarray())

    def __call__(self, frame: av.VideoFrame) -> Frame:
        return i420_to_bgr(self.i420(frame))


def luma(frame: av.VideoFrame) -> Grey:
    """The frame's Y plane as an array, without copying (YUV formats only)."""
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, : frame.width]


SkipFrame = Literal["DEFAULT", "NONREF", "NONKEY"]


def unreferenced_skip(stream: av.VideoStream, analysis_fps: float) -> SkipFrame:
    """``NONREF`` (frames no other frame refers to are not decoded) when the stream runs at
    twice the analysis rate or more, else ``DEFAULT``; re-analysis decodes files the same way."""
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    return "NONREF" if rate >= 2 * analysis_fps else "DEFAULT"


class DecodePolicy:
    """How much of the stream to decode.

    Frames that no other frame refers to are never decoded when analysis runs well below
    the stream's rate (H.264 streams with B-frames gain most), except during a burst of
    faster sampling (:class:`BurstSampler`), which may want every frame. A
    camera idle longer than ``idle_keyframes_only_after_s`` (no motion, and no moving track
    that the detection core told of) is decoded keyframes only, which costs a fraction of full
    decoding; the first keyframe with motion, or a moving track, switches full decoding back on.
    """

    def __init__(
        self,
        stream: av.VideoStream,
        source: CameraSource,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        """``on_change(keyframes_only)`` is told the mode at the start (full) and at each
        change (the camera page shows it)."""
        self._context = stream.codec_context
        self._idle_after = source.motion.idle_keyframes_only_after_s
        self._base = unreferenced_skip(stream, source.analysis_fps)
        self._skip = self._base
        self._context.skip_frame = self._skip
        self.keyframes_only = False
        self._gauge = KEYFRAMES_ONLY.labels(source.camera_id)
        self._gauge.set(0)
        self._on_change = on_change
        if on_change is not None:
            on_change(False)

    def update(self, idle_s: float, *, bursting: bool) -> None:
        """Decide from the seconds since the last motion or moving track, and whether a burst
        is on."""
        was = self.keyframes_only
        self.keyframes_only = (
            not bursting and self._idle_after is not None and idle_s >= self._idle_after
        )
        skip: SkipFrame = "NONKEY" if self.keyframes_only else "DEFAULT" if bursting else self._base
        if skip != self._skip:
            self._skip = skip
            self._context.skip_frame = skip
        if was != self.keyframes_only:
            self._gauge.set(int(self.keyframes_only))
            if self._on_change is not None:
                self._on_change(self.keyframes_only)
