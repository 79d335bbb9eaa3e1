"""Video files made for tests: cut from the shared clips by remuxing (no re-encoding), or
encoded here in any container FFmpeg writes."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np


def cut_clip(source: Path, dest: Path, seconds: float) -> Path:
    """The first ``seconds`` of ``source``'s video, remuxed into ``dest`` (MP4); returns
    ``dest``. The clip starts on the source's first keyframe, so it plays on its own."""
    with av.open(str(source)) as src, av.open(str(dest), "w") as out:
        stream = src.streams.video[0]
        assert stream.time_base is not None
        copy = out.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            if packet.pts is not None and packet.pts * stream.time_base >= seconds:
                break
            packet.stream = copy
            out.mux(packet)
    return dest


def encoded(container: str, codec: str, pixels: str = "yuv420p", frames: int = 10) -> bytes:
    """A real little video (a white bar moving over black, 320x240, 25 fps) in ``container``
    (an FFmpeg muxer name: ``matroska``, ``mpeg``...), encoded with ``codec``."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=25)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 320, 240, pixels
        for index in range(frames):
            image = np.zeros((240, 320, 3), np.uint8)
            image[:, index * 20 : index * 20 + 40] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()
