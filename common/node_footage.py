"""The station's copy of a node's recorded segment: fetched once, kept a day.

On a site of several machines each analysis node keeps its cameras' footage on its own disk and
serves it by segment id (:mod:`matthan.cluster.footage_server`); the station's ``segments``
index it with the node's name and the segment's id there
(:func:`common.recordings.add_node_segment`).
Whatever at the station reads footage (replay, alert clips, exports, case packages,
re-analysis) asks :func:`local_path` (one segment) or :func:`local_segments` (a list, as
:func:`common.evidence.cut_clip` takes it) for a file on this disk:

- a segment of this machine is its own file, as it always was;
- a node's segment is downloaded from the ``footage_url`` the node last reported
  (:func:`common.cluster_nodes.footage_url`), with the site token as a bearer token, into
  ``node-footage/<node>-<remote_id>.mp4`` beside the station's store: written under a name of
  its own and renamed into place, so a reader never sees half a file and two fetches of the
  same segment at once both end with the whole one. The next request finds it there.

A node that cannot be reached is :class:`NodeUnreachableError` (a ``ConnectionError``; the
dashboard answers 502, or 504 for :class:`NodeTimeoutError`), a segment the node no longer
has is :class:`NodeFootageMissingError` (a ``FileNotFoundError``: 404; the index forgets it,
as it does when the node announces the removal, :func:`forget`). Copies older than
:data:`KEEP_S` are deleted whenever a new one is added; one read again is kept longer.
"""

from __future__ import annotations

import http.client
import os
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from common import cluster_nodes, recordings
from common.recordings import Segment
from common.tls_files import client_context

if TYPE_CHECKING:
    from common.store import Store

DEFAULT_TOKEN_ENV = "MATTHAN_SITE_TOKEN"  # noqa: S105 (a variable's name, no secret)
"""Where the site token is read unless the caller names the site's ``cluster.token_env``."""
KEEP_S = 24 * 3600.0
"""A cached copy not read for this long is deleted when the next one is added."""
TIMEOUT_S = 20.0
"""The most one read from the node may wait (connecting, or for the next bytes)."""
CHUNK = 1 << 20

FETCHES = Counter(
    "matthan_node_footage_fetches",
    "Downloads of a node's segment by the station, by node and outcome (ok, unreachable, missing)",
    ["node", "outcome"],
)
FETCH_SECONDS = Histogram(
    "matthan_node_footage_fetch_seconds",
    "How long the station took to download one segment from its node",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class NodeFootageError(OSError):
    """A node's segment could not be had at the station."""


class NodeUnreachableError(NodeFootageError, ConnectionError):
    """The node did not answer (down, the link cut, no address known, the token refused)."""


class NodeTimeoutError(NodeUnreachableError, TimeoutError):
    """The node did not answer in time."""


class NodeFootageMissingError(NodeFootageError, FileNotFoundError):
    """The node has no such segment (its retention deleted it)."""


def cache_folder(database: Path) -> Path:
    """Where the station keeps its copies of nodes' segments: beside its store."""
    return database.parent / "node-footage"


def _copy(store: Store, node: str, remote_id: int) -> Path:
    return cache_folder(store.path) / f"{node}-{remote_id}.mp4"


def local_path(
    store: Store, segment: Segment, token_env: str = DEFAULT_TOKEN_ENV, ca: Path | None = None
) -> Path:
    """A file on this disk holding ``segment``: its own path, or the copy of a node's segment
    (fetched now if there is none yet; over HTTPS verified by ``ca``, the site's
    ``cluster.tls.ca``, when the node serves it so). Raises :class:`NodeFootageError` (see
    the module)."""
    if segment.node is None or segment.remote_id is None:
        return Path(segment.path)
    copy = _copy(store, segment.node, segment.remote_id)
    if copy.exists():
        os.utime(copy)  # read again: kept longer
        return copy
    url = cluster_nodes.footage_url(store, segment.node)
    if url is None:
        FETCHES.labels(segment.node, "unreachable").inc()
        raise NodeUnreachableError(f"node {segment.node} unreachable: it serves no footage")
    started = time.monotonic()
    try:
        _download(f"{url}/footage/segments/{segment.remote_id}.mp4", copy, token_env, ca)
    except NodeFootageMissingError:
        FETCHES.labels(segment.node, "missing").inc()
        forget(store, segment.node, segment.remote_id)  # its removal event may be on its way
        raise
    except NodeUnreachableError as exc:
        FETCHES.labels(segment.node, "unreachable").inc()
        kind = NodeTimeoutError if isinstance(exc, TimeoutError) else NodeUnreachableError
        raise kind(f"node {segment.node} unreachable: {exc}") from exc
    FETCHES.labels(segment.node, "ok").inc()
    FETCH_SECONDS.observe(time.monotonic() - started)
    prune(copy.parent, keep=copy)
    return copy


def forget(store: Store, node: str, remote_id: int) -> bool:
    """The node deleted its segment ``remote_id``: drop the station's index row and its copy
    here, if any; False when the index had no such row."""
    drop_copy(store, node, remote_id)
    return recordings.forget_node_segment(store, node, remote_id)


def drop_copy(store: Store, node: str, remote_id: int) -> None:
    """Delete the station's copy of node ``node``'s segment ``remote_id``, if it has one (the
    segment is gone, or the id names another segment now)."""
    _copy(store, node, remote_id).unlink(missing_ok=True)


def local_segments(
    store: Store,
    segments: Sequence[Segment],
    token_env: str = DEFAULT_TOKEN_ENV,
    ca: Path | None = None,
) -> list[Segment]:
    """``segments`` with each ``path`` a file on this disk (:func:`local_path`)."""
    return [
        replace(segment, path=str(local_path(store, segment, token_env, ca)))
        for segment in segments
    ]


def prune(folder: Path, keep: Path, now: float | None = None) -> int:
    """Delete the copies in ``folder`` not read for :data:`KEEP_S` (never ``keep``, nor a
    download under way); how many went."""
    cutoff = (time.time() if now is None else now) - KEEP_S
    removed = 0
    for copy in folder.glob("*.mp4"):
        try:
            if copy != keep and copy.stat().st_mtime < cutoff:
                copy.unlink()
                removed += 1
        except FileNotFoundError:  # another process pruned it first
            continue
    return removed


def _request(
    url: str, token_env: str, ca: Path | None
) -> tuple[urllib.request.Request, ssl.SSLContext | None]:
    """The GET of ``url`` with the site token, and the TLS context that verifies the node."""
    token = os.environ.get(token_env, "")
    if not token:
        raise NodeUnreachableError(f"{token_env} holds no site token")
    if not url.startswith(("http://", "https://")):
        raise NodeUnreachableError(f"not an HTTP address: {url!r}")
    if ca is not None and not url.startswith("https://"):  # never the token in clear
        raise NodeUnreachableError(f"the site has TLS, but the node serves plain HTTP: {url}")
    try:
        context = client_context(ca) if ca is not None else None
    except (ssl.SSLError, OSError) as exc:
        raise NodeUnreachableError(f"cluster.tls.ca {ca}: {exc}") from exc
    headers = {"Authorization": f"Bearer {token}"}
    return urllib.request.Request(url, headers=headers), context  # noqa: S310 (checked)


def _download(url: str, out: Path, token_env: str, ca: Path | None) -> None:
    """GET ``url`` with the site token into ``out`` (a name of its own, then renamed)."""
    request, context = _request(url, token_env, ca)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.{uuid.uuid4().hex}.partial")
    try:
        with urllib.request.urlopen(  # noqa: S310 (checked above)
            request, timeout=TIMEOUT_S, context=context
        ) as response:
            expected = response.headers.get("Content-Length")
            with partial.open("wb") as file:
                while chunk := response.read(CHUNK):
                    file.write(chunk)
        if expected is not None and partial.stat().st_size != int(expected):
            raise NodeUnreachableError("the download was cut short")
        os.replace(partial, out)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise NodeFootageMissingError(f"the node has no such segment ({url})") from exc
        raise NodeUnreachableError(f"the node answered {exc.code} {exc.reason}") from exc
    except TimeoutError as exc:
        raise NodeTimeoutError("no answer in time") from exc
    except http.client.HTTPException as exc:  # the answer broke off
        raise NodeUnreachableError(f"a broken answer: {exc!r}") from exc
    except (urllib.error.URLError, ConnectionError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise NodeTimeoutError("no answer in time") from exc
        raise NodeUnreachableError(str(reason)) from exc
    finally:
        partial.unlink(missing_ok=True)
