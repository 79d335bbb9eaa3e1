"""Prometheus metrics of the dashboard, and the one /metrics exposition for every process.

Every role (ingest-N, detect, dashboard) runs in its own process, so the service runs
prometheus_client in multiprocess mode: the supervisor points ``PROMETHEUS_MULTIPROC_DIR``
at a fresh folder, each process writes its samples to files there, and the dashboard merges
them on each scrape. Counters and histograms are summed over every process that ever lived,
so a restarted worker continues its counts. Gauges must use a ``live*`` mode: the supervisor
calls ``mark_process_dead`` for a role that died, which drops that process's gauge files, so
a restarted process never adds its values to those of its dead predecessor.

Some values are measured when Prometheus asks rather than where something happens: the
build, the free space of the recordings volume and each role's heartbeat age come from a
:class:`ScrapeCollector` made for each scrape. See docs/METRICS.md for every metric.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from common.config import SiteConfig
from common.disk import volume_usage

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The classic text format that :func:`generate_latest` writes and every Prometheus reads."""

LIVE_GAUGE_MODES = frozenset({"livesum", "livemax", "livemin", "livemostrecent"})
"""Gauge modes that forget a process once the supervisor marks it dead."""

WEBSOCKET_CLIENTS = Gauge(
    "matthan_dashboard_websocket_clients",
    "Open alert-feed WebSockets",
    multiprocess_mode="livesum",
)
WEBRTC_VIEWERS = Gauge(
    "matthan_dashboard_webrtc_viewers",
    "Open WebRTC live-view peer connections, by camera watched",
    ["camera"],
    multiprocess_mode="livesum",
)
DETECTION_SOCKETS = Gauge(
    "matthan_dashboard_detection_sockets",
    "Open live-detections WebSockets (tracked boxes drawn over a camera's live video)",
    multiprocess_mode="livesum",
)
DETECTIONS_DROPPED = Counter(
    "matthan_dashboard_detections_dropped",
    "Frames of tracked boxes a slow live-detections WebSocket skipped (drop oldest)",
)


def _version() -> str:
    try:
        return importlib.metadata.version("matthan")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True, eq=False)
class ScrapeCollector:
    """What is measured at scrape time in the dashboard process, for one site.

    ``role_ages`` returns the heartbeat age in seconds of every role the service should
    run (``inf`` for one that never beat); it raises OSError or sqlite3.Error when the
    store does not answer, and the heartbeat metric is then left out of that scrape.
    """

    site: SiteConfig
    role_ages: Callable[[], Mapping[str, float]]

    def collect(self) -> Iterable[Metric]:
        yield self._build_info()
        yield from self._disk()
        yield from self._heartbeats()

    def _build_info(self) -> Metric:
        info = GaugeMetricFamily(
            "matthan_build_info",
            "Always 1; the labels say which matthan, Python and detector run",
            labels=["version", "python", "backend", "model"],
        )
        detector = self.site.detector
        labels = [_version(), platform.python_version(), detector.backend, detector.model]
        info.add_metric(labels, 1)
        return info

    def _disk(self) -> Iterable[Metric]:
        try:
            usage = volume_usage(self.site.recording.path)
        except OSError as exc:
            log.warning("cannot measure the recordings volume: %s", exc)
            return
        free = GaugeMetricFamily(
            "matthan_recordings_disk_free_bytes",
            "Bytes still free for recordings on the volume that holds the recordings folder",
        )
        free.add_metric([], usage.free_bytes)
        size = GaugeMetricFamily(
            "matthan_recordings_disk_size_bytes",
            "Size in bytes of the volume that holds the recordings folder",
        )
        size.add_metric([], usage.total_bytes)
        yield from (free, size)

    def _heartbeats(self) -> Iterable[Metric]:
        try:
            ages = self.role_ages()
        except (OSError, sqlite3.Error) as exc:
            log.warning("cannot read heartbeats: %s", exc)
            return
        family = GaugeMetricFamily(
            "matthan_role_heartbeat_age_seconds",
            "Seconds since each supervised role (ingest-N, detect) last beat; +Inf if never",
            labels=["role"],
        )
        for role, age in sorted(ages.items()):
            family.add_metric([role], age)
        yield family


@dataclass(frozen=True, slots=True, eq=False)
class _Forward:
    """Hands on another registry's metrics (this process's, outside multiprocess mode)."""

    registry: CollectorRegistry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def exposition(scrape: Collector | None = None) -> tuple[bytes, str]:
    """The metrics text of all matthan processes (multiprocess mode) or of this one.

    ``scrape`` adds the values measured now, in this process (see :class:`ScrapeCollector`).
    """
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    if scrape is not None:
        registry.register(scrape)
    return generate_latest(registry), CONTENT_TYPE
