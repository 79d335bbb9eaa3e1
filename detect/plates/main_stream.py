"""The recorded main stream's picture of a moment, for plates too small in the sub-stream.

The recorder writes each camera's record stream, without re-encoding, into fragmented MP4
segments named by their wall-clock start (:func:`ingest.recorder.segment_path`); the segment
being written (``.mp4.partial``) is readable up to its last complete fragment, and a fragment
completes at every keyframe and at least every second. So the picture of a moment a second
ago is on disk: :meth:`MainStreamFrames.frame_at` finds the segment that holds it, demuxes
(cheap: no decoding) up to the moment, and decodes only from the keyframe before it. That is
the cost of a plate read on the main stream: up to one GOP of main-stream frames decoded per
crop read (a 2 s GOP at 25 fps: 50 frames), and nothing for cameras that read on the
detect stream. When the moment is not on disk yet, it waits for it up to ``wait_s``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from detect.snapshots import Image
from ingest.recorder import PARTIAL_SUFFIX, segment_start

log = logging.getLogger(__name__)

RETRY_S = 0.25
NEAR_ENOUGH_S = 0.5
"""A frame this close to the moment will do when the file ends before the moment (the camera
dropped, or the segment was cut)."""


@dataclass(frozen=True, slots=True)
class MainPicture:
    """A main-stream picture and how far from the asked moment it was taken."""

    image: Image
    offset_s: float
    decoded: int
    """Frames decoded to get it (the cost)."""


class MainStreamFrames:
    """Pictures of the recorded segments under ``folder`` (``recording.path``)."""

    def __init__(self, folder: Path, wait_s: float = 3.0) -> None:
        self.folder = folder
        self.wait_s = wait_s

    def segment_for(self, camera_id: str, at: float) -> tuple[Path, float] | None:
        """The segment file (final or partial) that starts last at or before ``at``."""
        best: tuple[Path, float] | None = None
        camera = self.folder / camera_id
        for day in (time.localtime(at - 86400.0), time.localtime(at)):
            folder = camera / time.strftime("%Y-%m-%d", day)
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if not path.name.endswith((".mp4", ".mp4" + PARTIAL_SUFFIX)):
                    continue
                start = segment_start(path)
                if start is not None and start <= at and (best is None or start > best[1]):
                    best = (path, start)
        return best

    def frame_at(self, camera_id: str, at: float) -> MainPicture | None:
        """The main-stream picture nearest ``at`` (waiting up to ``wait_s`` for it to be
        written), or None when no recorded segment holds the moment."""
        deadline = time.monotonic() + self.wait_s
        while True:
            found = self.segment_for(camera_id, at)
            if found is None:
                return None
            path, start = found
            if not path.exists():  # renamed from .partial meanwhile
                path = path.with_name(path.name.removesuffix(PARTIAL_SUFFIX))
            try:
                picture, complete = _decode_near(path, at - start)
            except (av.FFmpegError, OSError) as error:
                log.debug("main stream of %s at %.2f: %s", camera_id, at, error)
                picture, complete = None, False
            if complete or time.monotonic() >= deadline:
                if picture is not None and not complete and abs(picture.offset_s) > NEAR_ENOUGH_S:
                    return None
                return picture
            time.sleep(RETRY_S)


def _decode_near(path: Path, offset: float) -> tuple[MainPicture | None, bool]:
    """The picture nearest ``offset`` seconds into the file, and whether the file reached
    past it (False: what is on disk ends before the moment)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        if time_base is None:
            return None, False
        target = offset / float(time_base)
        since_key: list[Any] = []
        passed = False
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            if packet.pts > target and since_key:
                passed = True
                since_key.append(packet)  # the next picture may be nearer than the last
                break
            if packet.is_keyframe:
                since_key = []
            since_key.append(packet)
        if not since_key:
            return None, passed
        codec: Any = av.CodecContext.create(stream.codec_context.name, "r")
        codec.extradata = stream.codec_context.extradata
        best: tuple[float, Any] | None = None
        decoded = 0
        for packet in [*since_key, None]:
            for frame in codec.decode(packet):
                decoded += 1
                if frame.pts is None:
                    continue
                gap = float(frame.pts * time_base) - offset
                if best is None or abs(gap) < abs(best[0]):
                    best = (gap, frame)
        if best is None:
            return None, passed
        image = np.ascontiguousarray(best[1].to_ndarray(format="bgr24"))
        return MainPicture(image, best[0], decoded), passed
