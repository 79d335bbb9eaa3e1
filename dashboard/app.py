"""The app factory: the lifespan owns the store, the accounts, the bus and the channel pumps."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from common import case_exports
from common.accounts import Accounts
from common.bus import EventBus
from common.channel import Channel
from common.config import SiteConfig
from common.messages import AlertNotice
from common.node_footage import NodeFootageError, NodeFootageMissingError
from common.store import Store
from common.thumbnail_files import thumbnails_folder
from common.watching import DetectionsChannel, WatchedCameras
from dashboard.auth import LoginRequiredError
from dashboard.hosts import HostGuard, allowed_hosts
from dashboard.no_store import forbid_caching
from dashboard.routes import ROUTERS
from dashboard.routes.session import report_refusals
from dashboard.services.config_audit import audit_config
from dashboard.services.live import LiveLimits, LiveRelay
from dashboard.services.login_throttle import LoginThrottle, ThrottlePolicy
from dashboard.services.overlay import LiveDetections
from dashboard.services.page_shell import STATIC
from dashboard.services.pump import start_pump
from dashboard.services.push_sender import PushPolicy, PushSender
from dashboard.services.thumbnails import Thumbnails
from dashboard.state import DashboardState
from dashboard.tls import HSTS

if TYPE_CHECKING:
    from dashboard.services.node_live import NodeLive

log = logging.getLogger(__name__)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none';"
        " base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def _login_redirect(_request: Request, exc: Exception) -> Response:
    """A page asked for without a session: to the login page, and back afterwards."""
    assert isinstance(exc, LoginRequiredError)
    return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)


async def _node_footage_failed(_request: Request, exc: Exception) -> Response:
    """A node's segment could not be fetched (:mod:`common.node_footage`): 404 when the node
    no longer has it, 504 when it did not answer in time, else 502, saying which node."""
    assert isinstance(exc, NodeFootageError)
    status = (
        404
        if isinstance(exc, NodeFootageMissingError)
        else 504
        if isinstance(exc, TimeoutError)
        else 502
    )
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """The headers every answer carries (CSP, no sniffing, HSTS over https), and no caching
    of pictures or footage; the district hub's app uses it too (:mod:`dashboard.hub.app`)."""
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    forbid_caching(request.url.path, response)
    if request.url.scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _node_live(site: SiteConfig, detections: LiveDetections) -> NodeLive | None:
    """On a station of several machines, live view comes from the nodes (loaded only there:
    a single machine never imports NATS)."""
    if not site.cluster.enabled:
        return None
    from dashboard.services.node_live import NodeLive

    token = os.environ.get(site.cluster.token_env, "")
    return NodeLive(site, token, detections.publish)


def _include_routers(app: FastAPI) -> None:
    """One router per resource; health decides its own access (``dashboard.health_access``)."""
    for router in ROUTERS:
        app.include_router(router)


def create_app(
    site: SiteConfig,
    database: Path,
    notices: Channel[AlertNotice] | None = None,
    overlay: DetectionsChannel | None = None,
    push: PushPolicy | None = None,
) -> FastAPI:
    """The dashboard for ``site``, reading the store at ``database``.

    ``notices`` brings the other processes' alert notices to the alert feeds, and ``overlay``
    the detection core's tracked boxes for live view (a pump thread each:
    :mod:`dashboard.services.pump`);
    without them (a dashboard run on its own) the feeds catch up from the store and the
    detections sockets open but stay quiet.

    ``push`` says how new alerts are pushed to phones (:mod:`dashboard.services.push_sender`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(database)
        bus: EventBus[AlertNotice] = EventBus()
        accounts = Accounts(store)
        audit_config(store, site)
        if interrupted := case_exports.fail_interrupted(store):
            log.warning("%d case package(s) left unfinished by the last run: failed", interrupted)
        watched = overlay.watched if overlay else WatchedCameras.local([c.id for c in site.cameras])
        detections = LiveDetections(watched)
        node_live = _node_live(site, detections)
        live = LiveRelay(LiveLimits.of(site), node_live.open if node_live else None)
        thumbnails = Thumbnails(store, thumbnails_folder(database))
        logins = LoginThrottle(ThrottlePolicy.of(site.dashboard))
        app.state.dashboard = DashboardState(
            site, store, bus, accounts, thumbnails, live, detections=detections, logins=logins
        )
        stop, loop = threading.Event(), asyncio.get_running_loop()
        pumps: list[threading.Thread] = []
        if notices is not None:
            pumps.append(start_pump(notices, bus.publish, loop, stop, "notice-pump"))
        if overlay is not None:
            pumps.append(start_pump(overlay.boxes, detections.publish, loop, stop, "boxes-pump"))
        # This lifespan's own sender: tests run several clients (lifespans) over one app.
        sender = PushSender.for_store(app.state.dashboard, database, push or PushPolicy())
        app.state.push = sender
        await sender.start(bus)
        try:
            yield
        finally:
            stop.set()
            for pump in pumps:
                pump.join(timeout=5)
            await sender.stop()
            detections.close()
            await live.close()
            if node_live is not None:
                await node_live.close()
            report_refusals(store, logins, everything=True)
            store.close()

    app = FastAPI(
        title="matthan", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_exception_handler(LoginRequiredError, _login_redirect)
    app.add_exception_handler(NodeFootageError, _node_footage_failed)
    app.middleware("http")(security_headers)
    app.add_middleware(HostGuard, allowed=allowed_hosts(site.dashboard))
    _include_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
