"""Prometheus metrics of the dashboard, and the /metrics exposition for every process."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)

WEBSOCKET_CLIENTS = Gauge(
    "matthan_dashboard_websocket_clients",
    "Open alert-feed WebSockets",
    multiprocess_mode="livesum",
)


def exposition() -> tuple[bytes, str]:
    """The metrics text of all matthan processes (multiprocess mode) or of this one."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
