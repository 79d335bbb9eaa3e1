"""The camera wall's pictures on a site of several machines: from each node to the station.

A node's ingest writes each camera's thumbnail into the node's own thumbnails folder, every
``ingest.thumbnail_interval_s`` (:mod:`ingest.thumbnail`). :class:`ThumbnailRelay` (on the
node) publishes each new picture of a camera it holds on core NATS, subject
``matthan.thumbs.<site>.<camera>``; :func:`receive_thumbnails` (in the station's intake)
writes each into the station's thumbnails folder, where the dashboard's camera wall finds it
as on a single machine. Only the newest picture matters, so this is plain publish/subscribe,
not the alert stream: a picture lost while the station is down is replaced by the next.
"""

from __future__ import annotations

import logging
from pathlib import Path

import nats.errors
from nats.aio.msg import Msg

from common.thumbnail_files import thumbnail_path, write_atomically
from matthan.cluster.client import NatsClient

log = logging.getLogger(__name__)

SUBJECT_ROOT = "matthan.thumbs"
MAX_BYTES = 1024 * 1024
"""A thumbnail is some 20-60 KB; anything bigger on the subject is not one of ours."""


class ThumbnailRelay:
    """A node's side: publish the thumbnails that changed since the last call."""

    def __init__(self, client: NatsClient, site_id: str, folder: Path) -> None:
        self._client = client
        self._site_id = site_id
        self._folder = folder
        self._sent: dict[str, int] = {}

    def publish_changed(self, cameras: frozenset[str]) -> int:
        """Publish the new pictures of ``cameras``; returns how many were sent."""
        sent = 0
        for camera in sorted(cameras):
            try:
                path = thumbnail_path(self._folder, camera)
                changed = path.stat().st_mtime_ns
                if self._sent.get(camera) == changed:
                    continue
                data = path.read_bytes()
            except (OSError, ValueError):
                continue  # no picture yet
            subject = f"{SUBJECT_ROOT}.{self._site_id}.{camera}"
            try:
                self._client.run(self._client.nc.publish(subject, data), 2.0)
            except (TimeoutError, nats.errors.Error) as exc:
                log.warning("thumbnail of %s not sent: %s", camera, exc)
                return sent
            self._sent[camera] = changed
            sent += 1
        return sent


def receive_thumbnails(client: NatsClient, site_id: str, folder: Path) -> None:
    """The station's side: write every picture the nodes publish into ``folder`` (the
    station's thumbnails folder), until the client closes."""

    async def write(message: Msg) -> None:
        camera = message.subject.rsplit(".", 1)[-1]
        if len(message.data) > MAX_BYTES or not message.data.startswith(b"\xff\xd8"):
            log.warning(
                "not a thumbnail on %s (%d bytes): dropped", message.subject, len(message.data)
            )
            return
        try:
            write_atomically(thumbnail_path(folder, camera), message.data)
        except (OSError, ValueError) as exc:
            log.warning("thumbnail of %s not written: %s", camera, exc)

    client.run(client.nc.subscribe(f"{SUBJECT_ROOT}.{site_id}.*", cb=write))
