"""Receiving a video for re-analysis: streamed to disk under a size limit and a deadline,
then checked.

A file is taken in three steps, and at each one the operator gets a reason to act on:

1. **Size and time.** A ``Content-Length`` above the limit is refused before a byte is read
   (413). A body without one (sent chunked) is counted as it streams; the moment it passes
   the limit, reading stops and the partial file is deleted (413 too). Nothing is held in
   memory: chunks go straight to ``<random>.part`` in the uploads folder. A body must arrive
   whole within the site's ``reanalysis.upload_deadline_s`` (a client dripping a byte a
   minute would otherwise hold a connection and a part file for days): past it, reading
   stops and the part file is deleted (408).
2. **Content.** A file's name and type say nothing (anyone can rename a picture ``.mp4``).
   Its first bytes must be the signature of an accepted container (MP4/MOV, MKV, AVI,
   MPEG-TS: :mod:`common.containers`), read here, before FFmpeg sees the file; anything else
   is refused (415) without any demuxer probing it. The file is then opened with PyAV forcing
   that container's demuxer: it must have a video stream that decodes a picture within its
   first packets. A text file, a picture, a song, or the first kilobytes of an MP4 are
   refused (415) with what is wrong ("not a video file: ...").
3. **Name.** What was accepted is renamed ``<random>.video``; the operator's file name is
   kept only to be shown (:func:`display_name`), never used to build a path.

Part files left by a crash mid-upload are swept at the next upload. How many uploads may run
at once and how much a user may queue and store is :mod:`dashboard.services.upload_limits`.
"""

from __future__ import annotations

import asyncio
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
from fastapi import Request
from starlette.requests import ClientDisconnect

from common import containers
from dashboard.refusals import Refusal

MIB = 1024 * 1024
PART_SUFFIX = ".part"
FINAL_SUFFIX = ".video"
STALE_PART_S = 6 * 3600.0
STALL_TIMEOUT_S = 60.0
"""An upload that sends nothing for this long is refused and its part file deleted."""
STALLED = f"the upload stalled: nothing arrived for {STALL_TIMEOUT_S:g} s"
PROBE_PACKETS = 300
"""Packets of the video stream read while looking for a first picture (10 s at 30 fps)."""
UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Probe:
    """What the probe learned of an accepted file."""

    format: str
    codec: str
    width: int
    height: int
    duration_s: float | None


def uploads_folder(database: Path) -> Path:
    """Where uploads live: beside the store, like the recordings' clips and the exports."""
    return database.resolve().parent / "uploads"


def display_name(filename: str) -> str:
    """The operator's file name, fit to be shown: its last path part, without control
    characters, at most 120 characters; ``upload`` when nothing is left."""
    name = UNSAFE_NAME.sub("", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[-120:] or "upload"


def too_large(limit_bytes: int) -> Refusal:
    max_mb = round(limit_bytes / MIB, 1)
    return Refusal(
        413, "too_large", f"the file is larger than the {max_mb:g} MB allowed", max_mb=max_mb
    )


def _sweep_stale_parts(folder: Path) -> None:
    cutoff = time.time() - STALE_PART_S
    for part in folder.glob(f"*{PART_SUFFIX}"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
        except FileNotFoundError:
            continue


def too_slow(deadline_s: float) -> Refusal:
    return Refusal(
        408,
        "too_slow",
        f"the upload took longer than the {deadline_s:g} s allowed",
        max_s=deadline_s,
    )


def _declared_length(request: Request, limit_bytes: int, over: Callable[[], Refusal]) -> None:
    """Refuse at once what says it is too large (``over()``) or says nonsense (400)."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise Refusal(400, "bad_length", "the Content-Length header is not a number") from None
    if length > limit_bytes:
        raise over()


async def receive(
    request: Request,
    folder: Path,
    limit_bytes: int,
    deadline_s: float,
    over: Callable[[], Refusal] | None = None,
) -> Path:
    """Stream the request body to a new part file in ``folder``; returns its path.

    Refused, with nothing left on disk: more than ``limit_bytes`` (``over()``, by default
    :func:`too_large`), an empty body (422), a client that went away mid-way (400), sent
    nothing for :data:`STALL_TIMEOUT_S` (408 ``stalled``) or has not sent it all within
    ``deadline_s`` (408 ``too_slow``: a byte now and then must not hold a connection and a
    part file for ever), a full disk (507)."""
    refuse = over or (lambda: too_large(limit_bytes))
    _declared_length(request, limit_bytes, refuse)
    folder.mkdir(parents=True, exist_ok=True)
    _sweep_stale_parts(folder)
    part = folder / f"{secrets.token_hex(16)}{PART_SUFFIX}"
    received = 0
    deadline = time.monotonic() + deadline_s
    try:
        with part.open("xb") as out:
            chunks = request.stream()
            while True:
                left_s = deadline - time.monotonic()
                try:
                    chunk = await asyncio.wait_for(anext(chunks), min(STALL_TIMEOUT_S, left_s))
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    if left_s <= STALL_TIMEOUT_S:
                        raise too_slow(deadline_s) from None
                    raise Refusal(408, "stalled", STALLED) from None
                received += len(chunk)
                if received > limit_bytes:
                    raise refuse()
                if time.monotonic() > deadline:
                    raise too_slow(deadline_s)
                out.write(chunk)
    except ClientDisconnect:
        part.unlink(missing_ok=True)
        raise Refusal(400, "interrupted", "the upload was interrupted") from None
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise Refusal(507, "disk_full", f"the file could not be stored: {exc.strerror}") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if received == 0:
        part.unlink(missing_ok=True)
        raise Refusal(422, "empty", "the file is empty")
    return part


def not_video(code: str, reason: str) -> Refusal:
    return Refusal(415, code, f"not a video file: {reason}", reason=reason)


def accepted_container(path: Path) -> containers.Container:
    """The accepted container ``path`` is, told by its first bytes (no demuxer sees it);
    a 415 :class:`Refusal` naming what it is otherwise."""
    head = containers.read_head(path)
    found = containers.sniff(head)
    if found is not None:
        return found
    picture = containers.still_picture(head)
    if picture is not None:
        raise not_video("picture", f"it is a still picture ({picture})")
    raise not_video("container", f"it is not an {containers.ACCEPTED} file")


def probe(path: Path) -> Probe:
    """Check ``path`` is an accepted container, open it with that container's demuxer only,
    and decode its first picture; a 415 :class:`Refusal` saying what is wrong otherwise.
    Blocking: call it from a worker thread."""
    kind = accepted_container(path)
    try:
        with av.open(
            str(path), format=kind.demuxer, container_options=containers.OPEN_OPTIONS
        ) as container:
            format_name = container.format.name
            if not container.streams.video:
                raise not_video("no_video_stream", "it has no video stream")
            stream = container.streams.video[0]
            if not _decodes_a_picture(container, stream):
                raise not_video("no_picture", "no picture could be decoded from its start")
            return Probe(
                format=format_name,
                codec=stream.codec_context.name,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                duration_s=_duration_s(container, stream),
            )
    except av.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise not_video("unreadable", f"it cannot be read as video ({reason})") from None


def _decodes_a_picture(container: av.container.InputContainer, stream: av.VideoStream) -> bool:
    """True once a packet among the first :data:`PROBE_PACKETS` decodes to a picture. A
    packet that fails to decode is passed over (a file cut from a stream may begin with a
    few); a file whose data stops short of its first picture is not a video to analyse."""
    for index, packet in enumerate(container.demux(stream)):
        if index >= PROBE_PACKETS:
            return False
        try:
            if any(True for _ in packet.decode()):
                return True
        except av.FFmpegError:
            continue
    return False


def _duration_s(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    """The file's length from the container, else from the stream; None when unknown."""
    if container.duration is not None:
        seconds = container.duration / av.time_base
    elif stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    else:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def keep(part: Path) -> Path:
    """Give an accepted part file its final name; returns it."""
    final = part.with_suffix(FINAL_SUFFIX)
    part.rename(final)
    return final


def remove(path: str | None, folder: Path) -> None:
    """Delete an uploaded file of ``folder`` (and nothing outside it)."""
    if not path:
        return
    file = Path(path).resolve()
    if file.parent == folder.resolve():
        file.unlink(missing_ok=True)
