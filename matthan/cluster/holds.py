"""Legal holds placed at the station keep the footage on the nodes too.

An operator places a hold at the station (``legal_holds`` of its store, audited there), but on
a site of several machines the footage lies on the node that recorded it, whose retention reads
its own store. So the station's intake publishes the holds in force, the whole list, to the
key ``in_force`` of the KV bucket ``matthan_holds`` whenever it changes (:class:`HoldPublisher`,
read from its store every 2 s), and each node copies that list into its own ``legal_holds``
(:class:`HoldMirror`, rows made by ``station``), which its retention already respects: a held
segment is never deleted. A hold lifted at the station leaves the nodes' stores at the next
copy.

The bucket keeps the last list with no expiry, so a node that starts, or comes back after the
link was down, copies the holds at once. A node that cannot reach the server keeps the holds it
copied last (it never forgets one because it cannot see the list). Only the ranges travel:
camera, start, end and the station's hold id; the reason stays in the station's store.
"""

from __future__ import annotations

import json
import logging

import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from common import recordings
from common.db import StoreError
from common.recordings import HeldRange
from common.store import Store
from matthan.cluster.client import NatsClient
from matthan.cluster.kv import open_bucket

log = logging.getLogger(__name__)

HOLDS_BUCKET = "matthan_holds"
HOLDS_KEY = "in_force"
TIMEOUT_S = 2.0
"""The most one read or write of the list may wait (the node's loop waits for it)."""


class HoldsError(ValueError):
    """A list of holds in the bucket that is not one of ours."""


def encode(holds: list[HeldRange]) -> bytes:
    """The ranges as JSON, in the station's order (newest hold first)."""
    body = [
        {"id": hold.id, "camera_id": hold.camera_id, "start": hold.start, "end": hold.end}
        for hold in holds
    ]
    return json.dumps(body, separators=(",", ":")).encode()


def decode(data: bytes) -> list[HeldRange]:
    """The ranges in ``data``; :class:`HoldsError` if it is not such a list."""
    try:
        body = json.loads(data)
        if not isinstance(body, list):
            raise HoldsError("the holds are not a list")
        return [
            HeldRange(
                int(item["id"]), str(item["camera_id"]), float(item["start"]), float(item["end"])
            )
            for item in body
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise HoldsError(f"not a list of holds: {exc}") from exc


class _Bucket:
    """The holds bucket, opened at its first use and kept (opening it asks the server for the
    stream's info: once, not at every step); forgotten after an error, to be opened again."""

    def __init__(self, client: NatsClient) -> None:
        self._client = client
        self._kv: KeyValue | None = None

    async def open(self) -> KeyValue:
        if self._kv is None:
            self._kv = await open_bucket(self._client.js, HOLDS_BUCKET, ttl_s=0)
        return self._kv

    def forget(self) -> None:
        self._kv = None


class HoldPublisher:
    """The station's side: :meth:`step` puts the holds of its store into the bucket when they
    differ from what it last put (the first step always puts them)."""

    def __init__(self, client: NatsClient, store: Store) -> None:
        self._client = client
        self._store = store
        self._bucket = _Bucket(client)
        self._put: bytes | None = None

    def step(self) -> bool:
        """True when it put a new list; raises ``TimeoutError`` or a nats error when the
        server did not take it (the next step tries again)."""
        data = encode(recordings.held_ranges(self._store))
        if data == self._put:
            return False
        try:
            self._client.run(self._put_list(data), TIMEOUT_S)
        except (TimeoutError, nats.errors.Error):
            self._bucket.forget()
            raise
        self._put = data
        log.info("legal holds: %d in force, published to the nodes", len(json.loads(data)))
        return True

    async def _put_list(self, data: bytes) -> None:
        await (await self._bucket.open()).put(HOLDS_KEY, data)


class HoldMirror:
    """A node's side: :meth:`step` copies the station's list into ``store`` when its revision
    is new; a list that cannot be read, or a store that is busy, leaves the copy as it is
    until a later step."""

    def __init__(self, client: NatsClient, store: Store) -> None:
        self.client = client
        self.store = store
        self._bucket = _Bucket(client)
        self.revision = 0
        self._failing = False

    def step(self) -> bool:
        """True when the copy changed."""
        try:
            entry = self.client.run(self._get(), TIMEOUT_S)
        except (TimeoutError, nats.errors.Error) as exc:
            self._bucket.forget()
            if not self._failing:  # once per outage, not every step
                log.warning("legal holds: the station's list not read (%s); keeping the copy", exc)
            self._failing = True
            return False
        self._failing = False
        if entry is None or entry[0] == self.revision:
            return False
        revision, data = entry
        try:
            holds = decode(data)
        except HoldsError as exc:
            log.error("legal holds: %s; keeping the copy", exc)
            return False
        try:
            recordings.copy_station_holds(self.store, holds)
        except StoreError as exc:
            log.warning("legal holds: not copied now (%s); trying again", exc)
            return False
        self.revision = revision
        log.info("legal holds: %d of the station's copied", len(holds))
        return True

    async def _get(self) -> tuple[int, bytes] | None:
        try:
            entry = await (await self._bucket.open()).get(HOLDS_KEY)
        except nats.js.errors.KeyNotFoundError:  # the station has published none yet
            return None
        return int(entry.revision or 0), entry.value or b"[]"
