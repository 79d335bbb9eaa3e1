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
    if site.cluster.enabled:
        return _run_station(site, workers)
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


def _run_station(site: SiteConfig, workers: int | None) -> int:
    """The station of a site over several machines: its NATS server (``cluster.serve``), then
    the dashboard, re-analysis and the intake of the nodes' alerts; the nodes read the cameras
    (``matthan node``, see docs/SCALING.md)."""
    from matthan.cluster.server import NatsServer, NatsServerError, station_server
    from matthan.supervisor import SiteMode, Supervisor, SupervisorError

    cluster = site.cluster
    server: NatsServer | None = None
    try:
        if cluster.serve:
            server = station_server(site).start()
    except NatsServerError as exc:
        log.error("%s", exc)
        return 1
    supervisor = Supervisor(site, workers, SiteMode.STATION)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    log.info(
        "%s: station of %d cameras on the nodes, NATS %s",
        site.site.name,
        len(site.cameras),
        cluster.url,
    )
    try:
        supervisor.run()
    except SupervisorError as exc:
        log.error("%s", exc)
        return 1
    finally:
        if server is not None:
            server.stop()
    return 0
