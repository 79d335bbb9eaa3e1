"""The real dashboard process entry, :func:`dashboard.server.run_dashboard`, in a thread:
HTTPS on ``dashboard.port`` (and the redirecting plain port when the site has one), and an
httpx client that trusts only the site's own certificate."""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import httpx

from common.config import SiteConfig
from dashboard.server import DashboardPlan, run_dashboard


class HttpsDashboard:
    """``run_dashboard`` serving ``site`` (which must have ``dashboard.tls``) until closed."""

    def __init__(self, site: SiteConfig, database: Path) -> None:
        tls = site.dashboard.tls
        assert tls is not None, "an HTTPS dashboard needs dashboard.tls"
        self.port, self.plain_port = site.dashboard.port, site.dashboard.redirect_port
        self.url = f"https://127.0.0.1:{self.port}"
        self.trust = ssl.create_default_context(cafile=tls.cert)
        self.stop = threading.Event()
        plan = DashboardPlan(site, database)
        self.thread = threading.Thread(
            target=run_dashboard, args=(plan, None, None, self.stop), name="https-dashboard"
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", verify=self.trust, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        self.close()
        raise TimeoutError("the HTTPS dashboard did not answer")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.trust, timeout=10)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "the dashboard did not stop"
