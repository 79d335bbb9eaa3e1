"""The HTTP edge for cameras and the site, as pydantic models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

DecodeMode = Literal["full", "keyframes_only"]
"""How much of a camera's stream is decoded (:class:`ingest.decode.DecodePolicy`)."""


class CameraOut(BaseModel):
    """A camera and its last known state; never its URL or login.

    ``state`` is the connection state (online, offline, failed, stalled, connecting),
    ``degraded`` when the camera is online but the detector has stopped answering,
    ``unknown`` before the first report and ``disabled`` when switched off in the config.
    """

    id: str
    name: str
    area: str
    state: str
    state_since: float | None
    detail: str
    rules: list[str]
    thumbnail_url: str
    thumbnail_at: float | None = None
    """When the picture at ``thumbnail_url`` was taken (epoch seconds); None while there is
    none. It changes with the picture, so the wall reloads a picture only when it changed
    and can say how old it is."""
    decode: DecodeMode | None = None
    """How much of an online camera's stream is decoded: ``keyframes_only`` while it is idle
    (no motion for ``motion.idle_keyframes_only_after_s``), else ``full``; None when the
    camera is not online or has not said."""


class SiteOut(BaseModel):
    """What the page needs to know about the installation (shown before login too)."""

    name: str
    language: str
    timezone: str
