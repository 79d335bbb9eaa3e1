"""Prometheus metrics of the cluster pieces, declared once (docs/METRICS.md lists them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CAMERAS_HELD = Gauge(
    "matthan_cluster_cameras_held",
    "Cameras whose lease this node holds now",
    ["node"],
    multiprocess_mode="livemax",
)
LEASES_LOST = Counter(
    "matthan_cluster_leases_lost",
    "Camera leases a node found taken or expired when it renewed them",
    ["node"],
)
LEASES_MOVED = Counter(
    "matthan_cluster_leases_moved",
    "Camera leases taken (taken) or given up to a node below its share (released)",
    ["node", "change"],
)
ALERT_EVENTS_PUBLISHED = Counter(
    "matthan_cluster_alert_events_published",
    "Alert events published to the alert stream (duplicate: the server dropped a re-publish)",
    ["event", "outcome"],
)
ALERT_EVENTS_STORED = Counter(
    "matthan_cluster_alert_events_stored",
    "Alert events the station committed (outcome: new, or already stored and skipped)",
    ["event", "outcome"],
)
ALERT_EVENTS_REDELIVERED = Counter(
    "matthan_cluster_alert_events_redelivered",
    "Alert events the station received again (not acked in time before: a crash, a slow commit)",
)
ALERT_STREAM_LAG = Gauge(
    "matthan_cluster_alert_stream_lag",
    "Alert events in the stream the station has not yet received (its consumer's pending)",
    multiprocess_mode="livemax",
)
NODES_LIVE = Gauge(
    "matthan_cluster_nodes_live",
    "Analysis nodes that reported within the lease time (as the station's intake sees them)",
    multiprocess_mode="livemax",
)
NODE_CAMERAS = Gauge(
    "matthan_cluster_node_cameras",
    "Cameras of each live node: held (its leases) and analysing (detection beating, online)",
    ["node", "state"],
    multiprocess_mode="livemax",
)
CAMERAS_UNANALYSED = Gauge(
    "matthan_cluster_cameras_unanalysed",
    "Enabled cameras of the site that no live node analyses now",
    multiprocess_mode="livemax",
)
NODE_UP = Gauge(
    "matthan_cluster_node_up",
    "1 while a node that reported in the last day reports, 0 once it is gone",
    ["node"],
    multiprocess_mode="livemax",
)
LOST_NODE_ALERTS_ENDED = Counter(
    "matthan_cluster_lost_node_alerts_ended",
    "Open alerts the station ended for a node that stopped reporting (as of its last report)",
    ["node"],
)
