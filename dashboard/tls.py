"""HTTPS for the dashboard: uvicorn's TLS options, the header that pins browsers to HTTPS, and
the plain-HTTP port that only redirects.

With ``dashboard.tls`` set, uvicorn serves the site over TLS on ``dashboard.port``; every
HTTPS answer carries :data:`HSTS`, and the session cookie is ``Secure``
(:func:`dashboard.auth.set_session_cookie` looks at the request's scheme). The optional
``dashboard.redirect_port`` keeps an old ``http://`` address working without serving anything
over it: :class:`RedirectToHttps` answers every request there with a redirect and no content.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.responses import RedirectResponse
from starlette.types import Receive, Scope, Send

from common.addresses import host_of_header
from common.config import TlsConfig
from common.tls_files import TlsFilesError, check_identity

HSTS = "max-age=31536000"
"""A year: browsers that once reached the station over HTTPS (with a certificate they trust)
never try plain HTTP on it again. No ``includeSubDomains``: the station's name says nothing
of its neighbours'."""


class TlsError(ValueError):
    """The configured certificate and key cannot be served."""


def check_tls(tls: TlsConfig) -> None:
    """Load the certificate and key as uvicorn will, and say which file is wrong if they fail.

    Run before any process starts, so a bad path stops the service with one clear message
    instead of a dashboard that dies at every restart.
    """
    try:
        check_identity(tls.cert, tls.key, "dashboard.tls")
    except TlsFilesError as exc:
        raise TlsError(str(exc)) from None


def uvicorn_tls(tls: TlsConfig | None) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.Config`` that turn TLS on (none without ``tls``)."""
    if tls is None:
        return {}
    return {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}


def https_url(host: str, port: int, path: str, query: str) -> str:
    """``https://host[:port]path[?query]``; an IPv6 host in brackets, port 443 left out."""
    authority = f"[{host}]" if ":" in host else host
    if port != 443:
        authority += f":{port}"
    return f"https://{authority}{path}" + (f"?{query}" if query else "")


class RedirectToHttps:
    """The ASGI app of the plain-HTTP port: every request is redirected to the same path on
    the HTTPS port (308, so a POST stays a POST) with an empty body; nothing is served.

    It sits behind :class:`dashboard.hosts.HostGuard`, so the host it redirects to is one
    of the station's own names.
    """

    def __init__(self, https_port: int) -> None:
        self.https_port = https_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        host = host_of_header(Headers(scope=scope).get("host", "")) or "localhost"
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        target = https_url(host, self.https_port, path, query)
        await RedirectResponse(target, status_code=308)(scope, receive, send)
