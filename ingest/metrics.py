"""Prometheus metrics of the ingest stage, declared once, labelled by camera only."""

from prometheus_client import Counter, Gauge

PACKETS = Counter("matthan_ingest_packets", "Video packets received", ["camera"])
FRAMES_DECODED = Counter("matthan_ingest_frames_decoded", "Frames decoded", ["camera"])
FRAMES_ANALYSED = Counter(
    "matthan_ingest_frames_handed_off", "Frames handed to the detection core", ["camera"]
)
FRAMES_DROPPED = Counter(
    "matthan_ingest_frames_dropped",
    "Analysis frames dropped before detection, by reason",
    ["camera", "reason"],
)
GATED = Counter(
    "matthan_ingest_motion_frames",
    "Sampled frames judged by the motion gate, by verdict (motion, hold, refresh pass)",
    ["camera", "reason"],
)
RECONNECTS = Counter("matthan_ingest_reconnects", "Reconnect attempts", ["camera"])
CAMERA_ONLINE = Gauge(
    "matthan_camera_online",
    "1 while the camera streams, 0 otherwise",
    ["camera"],
    multiprocess_mode="livemax",
)
RECORDED_BYTES = Counter("matthan_recorder_bytes", "Bytes of video recorded", ["camera"])
SEGMENTS_WRITTEN = Counter("matthan_recorder_segments", "Recording segments finished", ["camera"])
RECORDING_ERRORS = Counter(
    "matthan_recorder_errors",
    "Segments abandoned because they could not be written (disk full...); recording pauses",
    ["camera"],
)
RECORDING_DELETED = Counter(
    "matthan_recorder_segments_deleted", "Segments removed by retention, by reason", ["reason"]
)
