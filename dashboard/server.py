"""The dashboard process: uvicorn serving :func:`dashboard.app.create_app` until stopped.

With ``dashboard.tls`` the site is served over HTTPS, and ``dashboard.redirect_port`` adds a
second, plain-HTTP server in the same event loop that only redirects to it
(:mod:`dashboard.tls`); both stop together.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from common.channel import Channel
from common.config import DashboardConfig, SiteConfig
from common.messages import AlertNotice
from common.watching import DetectionsChannel
from dashboard.app import create_app
from dashboard.health_access import metrics_token
from dashboard.hosts import HostGuard, allowed_hosts
from dashboard.tls import RedirectToHttps, check_tls, uvicorn_tls


@dataclass(frozen=True, slots=True)
class DashboardPlan:
    site: SiteConfig
    database: Path


def check_dashboard(config: DashboardConfig) -> None:
    """Raise ``ValueError`` saying what is wrong if the dashboard could not serve ``config``:
    a certificate or key that does not load, a metrics token too short to be a secret.

    The supervisor's caller runs it before any process starts (:func:`matthan.service.run_site`).
    """
    if config.tls is not None:
        check_tls(config.tls)
    metrics_token(config)


def servers(plan: DashboardPlan, app: FastAPI) -> list[uvicorn.Server]:
    """The site's server, and the redirecting one when the config asks for it."""
    config = plan.site.dashboard
    site = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=3,
        **uvicorn_tls(config.tls),
    )
    found = [uvicorn.Server(site)]
    if config.tls is not None and config.redirect_port is not None:
        redirect = HostGuard(RedirectToHttps(config.port), allowed_hosts(config))
        plain = uvicorn.Config(
            redirect,
            host=config.host,
            port=config.redirect_port,
            log_level="warning",
            lifespan="off",
        )
        found.append(uvicorn.Server(plain))
    return found


async def serve_together(running: list[uvicorn.Server]) -> None:
    """Serve until one of ``running`` stops (asked to, or failed to start), then stop all."""
    tasks = [asyncio.create_task(server.serve()) for server in running]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in running:
        server.should_exit = True
    await asyncio.gather(*tasks)


def run_dashboard(
    plan: DashboardPlan,
    notices: Channel[AlertNotice] | None,
    overlay: DetectionsChannel | None,
    stop: threading.Event,
) -> None:
    """Process entry point: serve until the supervisor sets ``stop`` (the channels are None
    for a dashboard run on its own, see :func:`dashboard.app.create_app`)."""
    app = create_app(plan.site, plan.database, notices, overlay)
    running = servers(plan, app)

    def watch() -> None:
        stop.wait()
        for server in running:
            server.should_exit = True

    threading.Thread(target=watch, daemon=True, name="stop-watch").start()
    asyncio.run(serve_together(running))
