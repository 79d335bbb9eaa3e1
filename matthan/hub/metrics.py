"""Prometheus metrics of a district hub (one process: the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STATION_UP = Gauge(
    "matthan_hub_station_up",
    "1 while the hub reaches the station's alert stream over its leaf link, else 0",
    ["station"],
)
STREAM_LAG = Gauge(
    "matthan_hub_stream_lag",
    "Events in the station's alert stream the hub has not stored yet",
    ["station"],
)
EVENTS_STORED = Counter(
    "matthan_hub_events_stored",
    "Events of a station's alert stream the hub stored (outcome: stored, skipped: a copy)",
    ["station", "outcome"],
)
