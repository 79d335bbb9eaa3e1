"""The video containers the station accepts from outside, told apart by their first bytes.

A file brought in on a USB stick is untrusted. Left to guess, FFmpeg offers the file's first
bytes to every demuxer it was built with (playlists that open other files, image sequences,
scores of little-used parsers) and opens it with whichever claims it. So the station reads
the signature itself, accepts only what cameras and recorders export, and then opens the
file with that one demuxer (``av.open(path, format=container.demuxer)``):

=========  ============================================  ==============
container  signature                                     FFmpeg demuxer
=========  ============================================  ==============
MP4, MOV   an ISO box (``ftyp``, ``moov``...) at byte 4   ``mov``
MKV, WebM  the EBML magic ``1A 45 DF A3``                ``matroska``
AVI        ``RIFF`` then ``AVI `` at byte 8              ``avi``
MPEG-TS    the sync byte 0x47 every 188 bytes (192 M2TS)  ``mpegts``
=========  ============================================  ==============

Still pictures are named (:func:`still_picture`) so that an operator who picked a photo is
told so, rather than "not one of the accepted containers" (an animated GIF is refused as a
container: it is not a camera's video).

Typical use::

    head = read_head(path)
    container = sniff(head)  # None: refuse the file
    with av.open(str(path), format=container.demuxer, container_options=OPEN_OPTIONS) as media:
        ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 1024
"""Bytes read to tell a container: enough for five transport-stream packets."""
ACCEPTED = "MP4, MOV, MKV, AVI or TS"
"""The accepted containers, as an operator's message names them."""
OPEN_OPTIONS = {"protocol_whitelist": "file"}
"""Options for opening a sniffed file: it may not make FFmpeg open anything but files."""

ISO_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})
"""First boxes of an MP4 or QuickTime file (old QuickTime files have no ``ftyp``)."""
HEIF_BRANDS = frozenset({b"avif", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"})
"""``ftyp`` brands of still pictures (HEIF, AVIF) that the ``mov`` demuxer would open."""
PICTURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"BM", "bmp"),
)
"""Signatures of still pictures, and their names."""
TS_PACKETS = 5
"""Transport-stream packets whose sync bytes must all be in place."""


@dataclass(frozen=True, slots=True)
class Container:
    """An accepted container: how an operator calls it and the FFmpeg demuxer to open it."""

    name: str
    demuxer: str


MP4 = Container("MP4/MOV", "mov")
MKV = Container("MKV", "matroska")
AVI = Container("AVI", "avi")
TS = Container("MPEG-TS", "mpegts")


def read_head(path: Path) -> bytes:
    """The first :data:`HEAD_BYTES` of ``path`` (fewer for a shorter file)."""
    with path.open("rb") as file:
        return file.read(HEAD_BYTES)


def sniff(head: bytes) -> Container | None:
    """The accepted container whose signature ``head`` starts with; None for anything else."""
    if head[4:8] in ISO_BOXES and not _heif(head):
        return MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MKV
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return AVI
    if _synced(head, 0, 188) or _synced(head, 4, 192):
        return TS
    return None


def still_picture(head: bytes) -> str | None:
    """The kind of still picture ``head`` starts ("png", "jpeg"...); None if it is not one."""
    if _heif(head):
        return "heif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in PICTURES if head.startswith(magic)), None)


def _heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def _synced(head: bytes, offset: int, size: int) -> bool:
    """True when the first :data:`TS_PACKETS` packets of ``size`` bytes (at least two)
    begin with the sync byte, ``offset`` bytes into each (M2TS prefixes a time code)."""
    packets = min(TS_PACKETS, len(head) // size)
    return packets >= 2 and all(head[offset + size * n] == 0x47 for n in range(packets))
