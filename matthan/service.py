"""Run a whole site in this terminal: the supervisor with signal handling."""

from __future__ import annotations

import logging
import signal

from common.config import SiteConfig

log = logging.getLogger("matthan")


def run_site(site: SiteConfig, workers: int | None = None) -> int:
    """Run every role of ``site`` until Ctrl-C or SIGTERM."""
    from dashboard.server import check_dashboard
    from matthan.supervisor import Supervisor, SupervisorError, prepare_metrics_dir

    try:
        check_dashboard(site.dashboard)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    prepare_metrics_dir(site.storage.database.resolve().parent)
    supervisor = Supervisor(site, workers)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    dashboard = site.dashboard
    log.info("%s: %d cameras", site.site.name, len(site.cameras))
    scheme = "https" if dashboard.tls else "http"
    log.info("dashboard on %s://%s:%d", scheme, dashboard.host, dashboard.port)
    if dashboard.tls and dashboard.redirect_port:
        log.info("plain http on port %d only redirects there", dashboard.redirect_port)
    try:
        supervisor.run()
    except SupervisorError as exc:
        log.error("%s", exc)
        return 1
    return 0
