"""A synchronous facade over nats-py for the threads of our processes.

nats-py is asyncio; ingest, detection and the store are threads. :class:`NatsClient` runs one
asyncio loop in a daemon thread, connects there with the site token and lets any thread run
a coroutine on it and wait for the answer::

    client = NatsClient.connect("nats://127.0.0.1:4222", token, name="node-a")
    info = client.run(client.js.stream_info("MATTHAN_ALERTS"))
    client.close()

The connection reconnects on its own (forever, every ``reconnect_wait_s``) while the server
restarts; a wrong token is refused at connect time with :class:`NatsAuthError`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any, TypeVar

import nats
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 10.0


class NatsClientError(ConnectionError):
    """The NATS server could not be reached or answered with an error."""


class NatsAuthError(NatsClientError, PermissionError):
    """The NATS server refused the token."""


class NatsClient:
    """One connection to the site's NATS server, with its own event loop thread.

    Build it with :meth:`connect`. ``nc`` and ``js`` are the nats-py objects: use them only
    inside coroutines passed to :meth:`run`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        self._loop = loop
        self._thread = thread
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    @classmethod
    def connect(
        cls,
        url: str,
        token: str,
        *,
        name: str = "matthan",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        reconnect_wait_s: float = 0.5,
        user: str | None = None,
        domain: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> NatsClient:
        """Connect to ``url`` with the site ``token``; raises :class:`NatsAuthError` when the
        server refuses the token and :class:`NatsClientError` when it cannot be reached.

        With ``user`` the token is that user's password (a district hub's per-station
        accounts, :mod:`matthan.cluster.hub_server`). With ``domain``, ``js`` speaks to the
        JetStream of that domain (a station's, over the hub's leaf link) instead of the one
        of the server connected to. With ``tls`` the connection is TLS, the server verified
        by it (:func:`common.tls_files.site_tls`)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=f"nats-{name}", daemon=True)
        thread.start()
        client = cls(loop, thread)
        try:
            opening = _open(url, token, name, reconnect_wait_s, user, tls=tls)
            client._nc = client.run(opening, timeout_s)
        except BaseException:
            client._stop_loop()
            raise
        client._js = client._nc.jetstream(domain=domain)
        return client

    @property
    def nc(self) -> Client:
        if self._nc is None:
            raise NatsClientError("the NATS client is closed")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise NatsClientError("the NATS client is closed")
        return self._js

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = DEFAULT_TIMEOUT_S) -> T:
        """Run ``coroutine`` on the client's loop and return its result (raising its error);
        a ``TimeoutError`` after ``timeout_s`` (the coroutine is then cancelled)."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("NatsClient.run called from its own loop: await instead")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout_s)
        except FutureTimeoutError:
            if future.done():  # the coroutine's own timeout (a fetch that found nothing)
                raise
            future.cancel()
            raise TimeoutError(f"NATS call took more than {timeout_s} s") from None

    def close(self, timeout_s: float = 5.0) -> None:
        """Flush what was published, close the connection and stop the loop thread."""
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                self.run(nc.close(), timeout_s)
            except (TimeoutError, nats.errors.Error) as exc:
                log.warning("closing the NATS connection: %s", exc)
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self._loop.close()


async def _open(
    url: str,
    token: str,
    name: str,
    reconnect_wait_s: float,
    user: str | None = None,
    *,
    tls: ssl.SSLContext | None = None,
) -> Client:
    """Check the token with one connection that does not retry (nats-py retries a refused
    token forever once reconnecting is on), then open the reconnecting one."""
    password = None if user is None else token
    token_only = token if user is None else None
    probe = Client()
    try:
        await probe.connect(
            url,
            token=token_only,
            user=user,
            password=password,
            name=name,
            allow_reconnect=False,
            connect_timeout=2,
            error_cb=_quiet,
            tls=tls,
        )
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        await probe.close()  # a failed connect leaves its socket open
        if "authorization" in str(exc).lower():
            raise NatsAuthError(f"the NATS server at {url} refused the token") from exc
        raise NatsClientError(f"cannot connect to NATS at {url}: {exc}") from exc
    await probe.close()

    async def on_error(exc: Exception) -> None:
        log.warning("NATS %s: %s", name, exc)

    async def on_disconnected() -> None:
        log.info("NATS %s: disconnected (reconnects unless closed)", name)

    async def on_reconnected() -> None:
        log.info("NATS %s: reconnected", name)

    return await nats.connect(
        url,
        token=token_only,
        user=user,
        password=password,
        name=name,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=reconnect_wait_s,
        connect_timeout=2,
        tls=tls,
    )


async def _quiet(exc: Exception) -> None:
    """The probe's errors are raised by connect itself: nothing to log twice."""
