"""A small recent picture of each camera for the camera wall, refreshed every few seconds.

The detect reader offers every frame it decodes; at most once per ``interval_s`` one of
them is scaled to a long side of 320 px, encoded as JPEG (quality 75, some 10-20 kB) and
written to ``<database folder>/thumbnails/<camera id>.jpg``. The dashboard serves that
file as the camera's thumbnail (:mod:`dashboard.services.thumbnails`), so the wall shows what every
camera sees now, not its last alert.

What it costs: nothing is ever decoded for it. It takes a frame the reader decoded
anyway, so a camera decoded keyframes only (idle, see
:class:`~ingest.decode.DecodePolicy`) gets its thumbnail from a keyframe, and a
stream that is never decoded (a record-only reader) gets none. Between two thumbnails a
frame costs one clock read; the scale and encode (about a millisecond at 320 px) happen
once per interval, on the reader's thread.

The file is replaced atomically (written beside it under a hidden name, then
``os.replace``): the dashboard reads either the old picture or the new one, never half of
one. It is not fsynced: after a power cut a thumbnail may be lost, and the next one comes
within ``interval_s``.

A picture that cannot be made or written (disk full, a folder without permission, a frame
the scaler rejects) is counted in ``matthan_ingest_thumbnail_errors_total`` and logged once
per run of failures; it never disturbs the reader, and the next try waits for the next
interval, so a full disk does not cost an encode per frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2

from common.thumbnail_files import thumbnail_path, write_atomically
from ingest.decode import scaled_size
from ingest.metrics import THUMBNAIL_ERRORS, THUMBNAILS_WRITTEN

log = logging.getLogger(__name__)
LONG_SIDE = 320
QUALITY = 75


def encode_thumbnail(frame: av.VideoFrame, long_side: int = LONG_SIDE) -> bytes:
    """``frame`` scaled to ``long_side`` (never up) and encoded as a JPEG."""
    width, height = scaled_size(frame.width, frame.height, long_side)
    picture = frame.reformat(width, height, "bgr24", interpolation="AREA").to_ndarray()
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data.tobytes())


class ThumbnailWriter:
    """Writes one camera's thumbnail from the frames offered, at most once per interval.

    The first frame offered is written at once (a camera that just came online shows up
    on the wall without waiting an interval); ``clock`` is monotonic seconds, replaceable
    in tests.
    """

    def __init__(
        self,
        camera_id: str,
        folder: Path,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive (0 means: make no ThumbnailWriter)")
        self.path = thumbnail_path(folder, camera_id)
        self._camera = camera_id
        self._interval = interval_s
        self._clock = clock
        self._next = float("-inf")
        self._failing = False
        self._written = THUMBNAILS_WRITTEN.labels(camera_id)
        self._errors = THUMBNAIL_ERRORS.labels(camera_id)

    def due(self) -> bool:
        """Whether the next frame offered would be written."""
        return self._clock() >= self._next

    def offer(self, frame: av.VideoFrame) -> bool:
        """Write ``frame`` as the thumbnail if one is due; True when it was written.

        A frame the decoder marks corrupt (the first frames after joining a stream between
        keyframes) is passed over, and the next good one is taken.
        """
        now = self._clock()
        if now < self._next or frame.is_corrupt:
            return False
        self._next = now + self._interval
        try:
            write_atomically(self.path, encode_thumbnail(frame))
        except Exception as exc:  # whatever it was, a thumbnail must never stop the camera
            self._errors.inc()
            if not self._failing:
                log.warning("camera %s: thumbnail not written: %s", self._camera, exc)
            self._failing = True
            return False
        if self._failing:
            log.info("camera %s: thumbnails written again", self._camera)
        self._failing = False
        self._written.inc()
        return True
