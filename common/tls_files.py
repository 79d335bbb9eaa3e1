"""PEM files a TLS identity or trust comes from, checked before anything starts, and the
contexts made of them.

The station's page (``dashboard.tls``), a district hub's leaf port (``hub.tls``), a
station's link to its hub (``cluster.hub.ca``) and the site's own links (``cluster.tls``:
NATS and the nodes' footage) each name files; a wrong path or a key that
does not match its certificate stops the program at once with the config key and the file,
instead of a server that fails at every start or a link that never comes up.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from common.config import ClusterConfig


class TlsFilesError(ValueError):
    """A certificate, key or authority file that cannot be used."""


def check_identity(cert: Path, key: Path, where: str) -> None:
    """Load ``cert`` with ``key`` as a TLS server will; ``where`` is their config key
    (``dashboard.tls``: the message names ``dashboard.tls.cert`` or ``.key``)."""
    for name, path in (("cert", cert), ("key", key)):
        if not path.is_file():
            raise TlsFilesError(f"{where}.{name}: {path.resolve()} is not a readable file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TlsFilesError(f"{where}: cannot serve {cert} with key {key}: {exc}") from None


def check_authority(ca: Path, where: str) -> None:
    """Load ``ca`` (PEM certificates a peer is verified by); ``where`` is its config key."""
    if not ca.is_file():
        raise TlsFilesError(f"{where}: {ca.resolve()} is not a readable file")
    try:
        ssl.create_default_context(cafile=str(ca))
    except (ssl.SSLError, OSError) as exc:
        raise TlsFilesError(f"{where}: {ca} holds no certificate to verify by: {exc}") from None


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server's TLS context serving ``cert`` with ``key``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context(ca: Path) -> ssl.SSLContext:
    """A client's TLS context that verifies the server (and its name) by ``ca``."""
    return ssl.create_default_context(cafile=str(ca))


def site_tls(cluster: ClusterConfig) -> ssl.SSLContext | None:
    """The TLS context a client of the site's NATS server connects with (``cluster.tls``:
    the server verified by its ``ca``), or None on a plain site."""
    return None if cluster.tls is None else client_context(cluster.tls.ca)
