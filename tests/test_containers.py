"""Telling an accepted container from its first bytes (:mod:`common.containers`), on files
FFmpeg writes here and on signatures that must not pass."""

from __future__ import annotations

import pytest

from common.containers import AVI, MKV, MP4, TS, Container, sniff, still_picture
from tests.video_files import encoded


@pytest.mark.parametrize(
    ("muxer", "codec", "expected"),
    [
        ("mp4", "mpeg4", MP4),
        ("mov", "mpeg4", MP4),
        ("matroska", "mpeg4", MKV),
        ("webm", "libvpx", MKV),
        ("avi", "mpeg4", AVI),
        ("mpegts", "mpeg2video", TS),
    ],
)
def test_what_ffmpeg_writes_is_told_apart(muxer: str, codec: str, expected: Container) -> None:
    assert sniff(encoded(muxer, codec)[:1024]) == expected


def test_an_m2ts_with_time_codes_is_a_transport_stream() -> None:
    """M2TS puts a 4-byte time code before each 188-byte packet."""
    packets = encoded("mpegts", "mpeg2video")
    m2ts = b"".join(
        b"\0\0\0\0" + packets[at : at + 188] for at in range(0, len(packets) - 187, 188)
    )
    assert sniff(m2ts[:1024]) == TS


@pytest.mark.parametrize(
    ("head", "picture"),
    [
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "heif"),
        (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", "heif"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "webp"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "jpeg"),
    ],
)
def test_still_pictures_are_refused_and_named(head: bytes, picture: str) -> None:
    """A HEIF or AVIF photo has an ``ftyp`` box like an MP4, and the ``mov`` demuxer would
    open it: its brand gives it away."""
    assert sniff(head) is None
    assert still_picture(head) == picture


@pytest.mark.parametrize(
    "head",
    [
        b"\x47" + b"\0" * 100,  # one sync byte is no transport stream
        b"\x47" + b"\0" * 187 + b"\x46" + b"\0" * 400,
        b"RIFF\x24\0\0\0WAVEfmt ",
        b"\0\0\x01\xba\x44\0\x04\0\x04\x01",  # MPEG-PS pack header
        b"FLV\x01\x05\0\0\0\x09",
        b"#EXTM3U\n#EXT-X-VERSION:3\n",
        b"",
    ],
)
def test_other_signatures_are_not_accepted(head: bytes) -> None:
    assert sniff(head) is None
