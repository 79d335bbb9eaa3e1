"""Video files made for tests from the shared clips: cut by remuxing (no re-encoding)."""

from __future__ import annotations

from pathlib import Path

import av


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
