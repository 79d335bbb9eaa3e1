"""A node's footage over HTTP, for its station: ``GET /footage/segments/{id}.mp4``.

A node keeps its cameras' recordings on its own disk (``docs/SCALING.md``); the station indexes
them from the outbox's segment events and fetches a file when someone watches or cuts it
(:mod:`common.node_footage`). This is the node's side: a small threaded HTTP server in a daemon
thread of the node process, started and stopped by :class:`matthan.cluster.node.Node`.

- Every request must carry the site token, ``Authorization: Bearer <token>`` (compared in
  constant time); without it, or with another, the answer is 401 before anything else is
  looked at, so a stranger cannot even learn which ids exist.
- A file is only ever found by a segment id of the node's own store, never by a path from the
  request (404 for an id that is not there, or whose file is gone).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import shutil
import ssl
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import recordings
from common.store import Store

log = logging.getLogger(__name__)

SEGMENT_PATH = re.compile(r"/footage/segments/([0-9]{1,18})\.mp4")
CHUNK = 1 << 20
HANDSHAKE_TIMEOUT_S = 20.0
"""The most a client's TLS handshake, and each read after it, may take."""


def bind_host(advertise_host: str) -> str:
    """Where to listen: loopback when the station reaches the node there, else everywhere."""
    try:
        loopback = ipaddress.ip_address(advertise_host).is_loopback
    except ValueError:  # a host name
        loopback = advertise_host == "localhost"
    return "127.0.0.1" if loopback else "0.0.0.0"  # other machines must reach it


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    store: Store
    token: bytes
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        """In the request's own thread: its TLS handshake first (a slow client holds up only
        itself), then the answer."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.warning("footage: TLS handshake with %s failed: %s", client_address[0], exc)
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            self.shutdown_request(wrapped)  # the plain socket was handed over to it


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if not self._authorised():
            self._refuse(HTTPStatus.UNAUTHORIZED, "the site token is needed")
            return
        match = SEGMENT_PATH.fullmatch(self.path.split("?", 1)[0])
        segment = recordings.segment(self.server.store, int(match[1])) if match else None
        if segment is None or segment.node is not None:
            self._refuse(HTTPStatus.NOT_FOUND, "no such segment")
            return
        try:
            file = Path(segment.path).open("rb")  # noqa: SIM115 (closed below)
        except OSError:  # retention removed it meanwhile
            self._refuse(HTTPStatus.NOT_FOUND, "no such segment")
            return
        with file:
            size = Path(segment.path).stat().st_size
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            shutil.copyfileobj(file, self.wfile, CHUNK)

    def _authorised(self) -> bool:
        given = self.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.server.token
        )

    def _refuse(self, status: HTTPStatus, why: str) -> None:
        body = f"{why}\n".encode()
        self.send_response(status)
        if status is HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", "Bearer")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("footage %s: " + format, self.address_string(), *args)


class FootageServer:
    """The node's footage server, listening from construction until :meth:`close`."""

    def __init__(
        self,
        store: Store,
        token: str,
        *,
        advertise_host: str,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: serve HTTPS with it (the site's ``cluster.tls``; the station verifies the
        node by the site's authority, so ``advertise_host`` must be a name in the
        certificate)."""
        self._server = _Server((bind_host(advertise_host), port), _Handler)
        self._server.store = store
        self._server.token = token.encode()
        self._server.tls = tls
        scheme = "http" if tls is None else "https"
        self.url = f"{scheme}://{advertise_host}:{self._server.server_address[1]}"
        """What the node reports (``footage_url``): where the station finds it."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="footage-server", daemon=True
        )
        self._thread.start()
        log.info("footage served at %s", self.url)

    def close(self) -> None:
        """Stop listening, wait for the serving loop; answers under way finish on their own."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
