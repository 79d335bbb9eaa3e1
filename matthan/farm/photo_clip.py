"""A video of the real parking-lot photos of the plate data set, served on the farm as the
demo's gate camera and used by the plate tests and benchmark.

The data set has still photos, not video: the clip shows each chosen photo for ``hold_s``
seconds at ``fps``, slowly zooming in (to :data:`ZOOM` of the picture's width at the end), so
that the vehicles come closer as they would at a gate, the motion gate sees change and the
tracker a vehicle in every frame. It is encoded with H.264 at the photos' 1920x1080, with a
keyframe at every new photo (a camera's main stream, as a gate camera's would be).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from common.paths import default_plates_dir

Image = npt.NDArray[np.uint8]
MOTORBIKE_FRAMES = (
    "clip3_new_0.jpg",
    "clip3_new_5.jpg",
    "clip3.2_new_0.jpg",
    "clip3.2_new_8.jpg",
    "clip4_new_0.jpg",
)
"""Photos where the motorbike ``75-H1 357.92`` stands (the last one: a car, ``51G-971.62``)."""


ZOOM = 0.8


def zoomed(image: Image, share: float) -> Image:
    """The centre ``share`` of ``image`` (width and height), blown up to its size."""
    height, width = image.shape[:2]
    w, h = round(width * share), round(height * share)
    x, y = (width - w) // 2, (height - h) // 2
    part = image[y : y + h, x : x + w]
    return np.asarray(cv2.resize(part, (width, height), interpolation=cv2.INTER_LINEAR), np.uint8)


def photo_clip(
    dest: Path, frames: tuple[str, ...] = MOTORBIKE_FRAMES, hold_s: float = 3.0, fps: int = 5
) -> Path:
    """``frames`` (names in ``frames/``) each held ``hold_s`` seconds, as an MP4 at ``dest``."""
    per_photo = round(hold_s * fps)
    with av.open(str(dest), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.codec_context.gop_size = per_photo
        stream.codec_context.options = {"bf": "0", "preset": "veryfast", "crf": "23"}
        stream.codec_context.time_base = Fraction(1, fps)
        index = 0
        for name in frames:
            read = cv2.imread(str(default_plates_dir() / "frames" / name))
            assert read is not None, name
            photo: Image = np.asarray(cv2.resize(read, (1920, 1080)), np.uint8)
            for step in range(per_photo):
                share = 1.0 - (1.0 - ZOOM) * step / max(1, per_photo - 1)
                frame = av.VideoFrame.from_ndarray(zoomed(photo, share), format="bgr24")
                frame.pts = index
                index += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dest
