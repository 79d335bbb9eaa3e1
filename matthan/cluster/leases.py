"""Which node analyses which camera: leases in a JetStream key-value bucket.

Each camera has at most one lease, the key ``cam.<camera>`` in the bucket ``matthan_leases``
whose value names the holder. The bucket's TTL is the lease time: a lease not renewed within
it disappears, and the camera is free for another node. Every live node also renews its own
key ``node.<name>`` in ``matthan_nodes`` (same TTL): the keys there are the nodes alive now.

A node calls :meth:`CameraLeases.step` every ``lease_s / 3``. One step:

1. **Announces** the node (``node.<name>``, a plain put).
2. **Renews** each lease it holds with a compare-and-set on the revision it wrote last. If the
   lease changed meanwhile (expired while the node was stalled, then taken by another) the
   write fails and the node gives the camera up: a lost lease is never taken back by
   overwriting.
3. **Balances**: with ``n`` cameras over ``k`` live nodes every node should hold ``n // k``
   or one more. The nodes are ranked by what they hold (most first, then name): the first
   ``n % k`` get the larger target, so the nodes that hold most keep most. Nodes below their
   target take free cameras; nodes above it release their surplus. The targets add up to
   ``n``: every node computes the same plan from the same snapshot, and a fourth node
   joining 3 × 3 cameras gets 2 while exactly 2 cameras move.
4. Takes free cameras with a create (it fails if the key exists), in the cameras' stable
   order, until it reaches its target.

:meth:`held` is what the node must analyse now. It also drops a lease whose renewal has not
been confirmed within the lease time (a node cut from the server stops analysing the camera
before another node can have taken it).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from matthan.cluster.client import NatsClient
from matthan.cluster.kv import open_bucket, snapshot
from matthan.cluster.metrics import CAMERAS_HELD, LEASES_LOST, LEASES_MOVED

log = logging.getLogger(__name__)

LEASES_BUCKET = "matthan_leases"
NODES_BUCKET = "matthan_nodes"
_CAMERA_PREFIX = "cam."
_NODE_PREFIX = "node."
_KEY_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease this node holds: the revision it wrote last, and when it sent that write
    (monotonic seconds; the lease is surely valid until ``sent_at + lease_s``)."""

    revision: int
    sent_at: float


@dataclass(frozen=True, slots=True)
class Plan:
    """What one node should do in this step."""

    target: int
    """Cameras the node should hold."""
    release: int
    """Cameras it gives up now (to nodes below their target)."""


def plan_share(node: str, counts: Mapping[str, int], cameras: int) -> Plan:
    """The balancing rule of one step for ``node``, from what each live node holds.

    ``counts`` has every live node (``node`` included). The targets add up to ``cameras``,
    so what the nodes above their target release is never more than what the nodes below
    it lack beyond the free cameras: nothing moves that need not. Pure, so every node
    reaches the same plan from the same snapshot.
    """
    ranked = sorted(counts, key=lambda name: (-counts[name], name))
    base, extra = divmod(cameras, len(ranked))
    target = base + (1 if ranked.index(node) < extra else 0)
    return Plan(target=target, release=max(0, counts[node] - target))


class CameraLeases:
    """One node's side of the camera leases (see the module's docstring)."""

    def __init__(
        self,
        client: NatsClient,
        node_name: str,
        cameras: Iterable[str],
        lease_s: float = 10.0,
    ) -> None:
        """``lease_s`` is the TTL of a bucket this node creates; where the bucket exists,
        its TTL wins (the site's first node set it; :attr:`lease_s` then says it)."""
        self.cameras: tuple[str, ...] = tuple(sorted(set(cameras)))
        bad = [name for name in (node_name, *self.cameras) if not _KEY_PART.fullmatch(name)]
        if bad:
            raise ValueError(f"{bad[0]!r} cannot name a node or camera (letters, digits, - and _)")
        self._client = client
        self.node_name = node_name
        self.lease_s = lease_s
        self._leases: dict[str, Lease] = {}
        self._leases_kv: KeyValue | None = None
        self._nodes_kv: KeyValue | None = None
        self.live_nodes: tuple[str, ...] = ()
        self.report: Mapping[str, object] = {}
        """What the node says of itself at each step, beside the time (its ``node.<name>``
        value, JSON): e.g. the cameras it analyses now (:func:`node_reports`)."""

    @property
    def step_s(self) -> float:
        """How often :meth:`step` should run: three renewals per lease time."""
        return self.lease_s / 3

    def held(self) -> frozenset[str]:
        """The cameras this node holds now (and only those it should analyse)."""
        now = time.monotonic()
        return frozenset(
            camera for camera, lease in self._leases.items() if now < lease.sent_at + self.lease_s
        )

    def step(self, timeout_s: float | None = None) -> frozenset[str]:
        """Announce, renew, balance and take (see the module's docstring); returns
        :meth:`held`. A server that cannot be reached leaves the leases to expire. A step cut
        short by ``timeout_s`` may have taken a lease it did not record: nobody holds that
        camera until the lease expires, then it is free again."""
        try:
            self._client.run(self._step(), timeout_s or max(1.0, self.lease_s))
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("leases of %s: step failed: %s", self.node_name, exc)
        held = self.held()
        CAMERAS_HELD.labels(self.node_name).set(len(held))
        return held

    def announce(self, timeout_s: float = 2.0) -> None:
        """Put the node's :attr:`report` now, between steps (a server that does not answer
        leaves it to the next step)."""

        async def put() -> None:
            _, nodes = await self._buckets()
            value = json.dumps({**self.report, "at": time.time()})
            await nodes.put(_NODE_PREFIX + self.node_name, value.encode())

        try:
            self._client.run(put(), timeout_s)
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("node %s: report not sent: %s", self.node_name, exc)

    def release_all(self, timeout_s: float = 5.0) -> None:
        """Give every lease up now and leave the node list (a clean stop: the other nodes
        take the cameras at their next step, not after the lease time)."""
        try:
            self._client.run(self._release_all(), timeout_s)
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("leases of %s: release at stop failed: %s", self.node_name, exc)
        self._leases.clear()

    async def _buckets(self) -> tuple[KeyValue, KeyValue]:
        if self._leases_kv is None or self._nodes_kv is None:
            self._leases_kv = await open_bucket(self._client.js, LEASES_BUCKET, self.lease_s)
            self._nodes_kv = await open_bucket(self._client.js, NODES_BUCKET, self.lease_s)
            ttl = (await self._leases_kv.status()).ttl
            if ttl and abs(ttl - self.lease_s) > 1e-3:
                # The bucket's TTL is the lease time the server enforces: follow it (renew
                # often enough, and never believe a lease longer than the server keeps it).
                log.warning(
                    "%s: bucket %s has TTL %.1f s, not %.1f s: using it",
                    self.node_name,
                    LEASES_BUCKET,
                    ttl,
                    self.lease_s,
                )
                self.lease_s = ttl
        return self._leases_kv, self._nodes_kv

    async def _step(self) -> None:
        leases, nodes = await self._buckets()
        value = json.dumps({**self.report, "at": time.time()})
        await nodes.put(_NODE_PREFIX + self.node_name, value.encode())
        await self._renew(leases)
        owners = {
            key[len(_CAMERA_PREFIX) :]: entry.value.decode() if entry.value else ""
            for key, entry in (await snapshot(leases)).items()
            if key.startswith(_CAMERA_PREFIX)
        }
        alive = {key[len(_NODE_PREFIX) :] for key in await snapshot(nodes)}
        alive.add(self.node_name)
        self.live_nodes = tuple(sorted(alive))
        counts = dict.fromkeys(alive, 0)
        for camera in self.cameras:
            owner = owners.get(camera)
            if owner in counts and owner != self.node_name:
                counts[owner] += 1
        counts[self.node_name] = len(self._leases)
        free = [camera for camera in self.cameras if camera not in owners]
        plan = plan_share(self.node_name, counts, len(self.cameras))
        await self._release(leases, plan.release)
        await self._take(leases, free, plan.target)

    async def _renew(self, leases: KeyValue) -> None:
        for camera, lease in sorted(self._leases.items()):
            sent_at = time.monotonic()
            try:
                revision = await leases.update(
                    _CAMERA_PREFIX + camera, self.node_name.encode(), last=lease.revision
                )
            except nats.js.errors.KeyWrongLastSequenceError:
                del self._leases[camera]
                LEASES_LOST.labels(self.node_name).inc()
                log.warning("%s lost the lease of %s (expired or taken)", self.node_name, camera)
                continue
            self._leases[camera] = Lease(revision, sent_at)

    async def _release(self, leases: KeyValue, count: int) -> None:
        for camera in sorted(self._leases, reverse=True)[:count]:
            lease = self._leases.pop(camera)
            await _delete(leases, camera, lease)
            LEASES_MOVED.labels(self.node_name, "released").inc()
            log.info("%s released %s to a node below its share", self.node_name, camera)

    async def _take(self, leases: KeyValue, free: Sequence[str], target: int) -> None:
        for camera in free:
            if len(self._leases) >= target:
                return
            sent_at = time.monotonic()
            try:
                revision = await leases.create(_CAMERA_PREFIX + camera, self.node_name.encode())
            except nats.js.errors.KeyWrongLastSequenceError:
                continue  # another node took it first
            self._leases[camera] = Lease(revision, sent_at)
            LEASES_MOVED.labels(self.node_name, "taken").inc()
            log.info("%s took %s", self.node_name, camera)

    async def _release_all(self) -> None:
        leases, nodes = await self._buckets()
        for camera, lease in sorted(self._leases.items()):
            await _delete(leases, camera, lease)
        await nodes.delete(_NODE_PREFIX + self.node_name)


async def _delete(leases: KeyValue, camera: str, lease: Lease) -> None:
    """Give a lease up if it is still the one this node wrote (else it is gone already)."""
    try:
        await leases.delete(_CAMERA_PREFIX + camera, last=lease.revision)
    except nats.js.errors.APIError as exc:
        log.info("lease of %s was no longer ours at release: %s", camera, exc)


async def node_reports(client: NatsClient) -> dict[str, dict[str, object]]:
    """The live nodes and what each said of itself at its last step (see
    :attr:`CameraLeases.report`); a node whose value is not JSON says nothing."""
    try:
        nodes = await client.js.key_value(NODES_BUCKET)
    except nats.js.errors.BucketNotFoundError:  # no node has started yet
        return {}
    reports: dict[str, dict[str, object]] = {}
    for key, entry in (await snapshot(nodes)).items():
        if not key.startswith(_NODE_PREFIX):
            continue
        try:
            value = json.loads(entry.value or b"{}")
        except ValueError:
            value = {}
        reports[key[len(_NODE_PREFIX) :]] = value if isinstance(value, dict) else {}
    return reports
