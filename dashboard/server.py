"""The dashboard process: uvicorn serving :func:`dashboard.app.create_app` until stopped."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from common.channel import Channel
from common.config import SiteConfig
from common.messages import AlertNotice
from common.watching import DetectionsChannel
from dashboard.app import create_app


@dataclass(frozen=True, slots=True)
class DashboardPlan:
    site: SiteConfig
    database: Path


def run_dashboard(
    plan: DashboardPlan,
    notices: Channel[AlertNotice],
    overlay: DetectionsChannel | None,
    stop: threading.Event,
) -> None:
    """Process entry point: serve until the supervisor sets ``stop``."""
    config = plan.site.dashboard
    app = create_app(plan.site, plan.database, notices, overlay)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=3,
        )
    )

    def watch() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=watch, daemon=True, name="stop-watch").start()
    server.run()
