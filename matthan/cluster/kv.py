"""Small helpers over JetStream key-value buckets shared by the cluster modules."""

from __future__ import annotations

import contextlib

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

SNAPSHOT_TIMEOUT_S = 5.0


async def open_bucket(js: JetStreamContext, bucket: str, ttl_s: float) -> KeyValue:
    """The bucket ``bucket`` whose values expire ``ttl_s`` after their last write, created on
    first use. A bucket made earlier with another TTL is used as it is (changing it is an
    operator's act: ``nats kv`` or deleting the bucket)."""
    try:
        return await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        pass
    try:
        return await js.create_key_value(bucket=bucket, history=1, ttl=ttl_s)
    except nats.js.errors.BadRequestError:  # another process created it meanwhile
        return await js.key_value(bucket)


async def snapshot(kv: KeyValue) -> dict[str, KeyValue.Entry]:
    """Every live key of the bucket with its latest entry (value and revision), read in one
    pass of an ordered consumer rather than one request per key."""
    watcher = await kv.watchall(ignore_deletes=True)
    entries: dict[str, KeyValue.Entry] = {}
    try:
        while True:
            entry = await watcher.updates(timeout=SNAPSHOT_TIMEOUT_S)  # type: ignore[no-untyped-call]
            if entry is None:
                return entries
            if entry.operation is None and entry.key is not None:
                entries[entry.key] = entry
    finally:
        with contextlib.suppress(nats.errors.Error):
            await watcher.stop()  # type: ignore[no-untyped-call]
