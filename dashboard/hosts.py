"""Only requests addressed to this station: the ``Host`` header must name it (DNS rebinding).

A page on another site can make its own domain name resolve to the station's address and
then call the dashboard from the operator's browser as "same origin". The browser still
sends that domain in ``Host``, so every request (and WebSocket) naming a host that is not
the station's is answered 400 before any route sees it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from common.addresses import LOOPBACK_NAMES, host_of_header, is_address, is_wildcard, normal_host
from common.config import DashboardConfig

REFUSED = "this station is not served under that name (see dashboard.allowed_hosts)"


def allowed_hosts(config: DashboardConfig) -> frozenset[str]:
    """The loopback names, ``config.allowed_hosts``, and the host itself if it is an address
    (a wildcard such as ``0.0.0.0`` is no name a browser uses)."""
    names = {*LOOPBACK_NAMES, *config.allowed_hosts}
    host = normal_host(config.host)
    if host is not None and is_address(host) and not is_wildcard(host):
        names.add(host)
    return frozenset(names)


class HostGuard:
    """ASGI middleware: 400 for HTTP and WebSocket requests whose ``Host`` is not allowed."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = host_of_header(Headers(scope=scope).get("host", ""))
            if host not in self.allowed:
                refusal = PlainTextResponse(
                    REFUSED, status_code=400, headers={"X-Content-Type-Options": "nosniff"}
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
