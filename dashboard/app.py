"""The app factory: the lifespan owns the store, the bus and the notice pump."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from multiprocessing.queues import Queue
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from common.bus import EventBus
from common.config import SiteConfig
from common.messages import AlertNotice
from common.store import Store
from dashboard import routes_alerts, routes_cameras, routes_health
from dashboard.state import DashboardState

STATIC = Path(__file__).parent / "static"


def _pump_notices(
    notices: Queue[AlertNotice],
    bus: EventBus[AlertNotice],
    loop: asyncio.AbstractEventLoop,
    stop: threading.Event,
) -> None:
    """Move notices from the detection process's queue onto the bus, in the loop's thread."""
    while not stop.is_set():
        try:
            notice = notices.get(timeout=0.5)
        except queue.Empty:
            continue
        except (EOFError, OSError):
            return
        loop.call_soon_threadsafe(bus.publish, notice)


def create_app(
    site: SiteConfig, database: Path, notices: Queue[AlertNotice] | None = None
) -> FastAPI:
    """The dashboard for ``site``, reading the store at ``database``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(database)
        bus: EventBus[AlertNotice] = EventBus()
        app.state.dashboard = DashboardState(site=site, store=store, bus=bus)
        stop = threading.Event()
        pump = None
        if notices is not None:
            loop = asyncio.get_running_loop()
            pump = threading.Thread(
                target=_pump_notices, args=(notices, bus, loop, stop), name="notice-pump"
            )
            pump.start()
        try:
            yield
        finally:
            stop.set()
            if pump is not None:
                pump.join(timeout=5)
            store.close()

    app = FastAPI(title="matthan", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(routes_alerts.router)
    app.include_router(routes_cameras.router)
    app.include_router(routes_health.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
