"""Prometheus metrics of the ingest stage, declared once, labelled by camera only."""

from prometheus_client import Counter, Gauge

PACKETS = Counter("matthan_ingest_packets", "Video packets received", ["camera"])
FRAMES_DECODED = Counter("matthan_ingest_frames_decoded", "Frames decoded", ["camera"])
FRAMES_ANALYSED = Counter(
    "matthan_ingest_frames_handed_off", "Frames handed to the detection core", ["camera"]
)
GATED = Counter(
    "matthan_ingest_motion_frames",
    "Sampled frames judged by the motion gate, by verdict (motion, hold, refresh pass)",
    ["camera", "reason"],
)
KEYFRAMES_ONLY = Gauge(
    "matthan_ingest_keyframes_only",
    "1 while the camera is decoded keyframes only (idle for motion.idle_keyframes_only_after_s),"
    " 0 while every frame is decoded",
    ["camera"],
    multiprocess_mode="livemax",
)
BURSTS = Counter(
    "matthan_ingest_bursts",
    "Bursts of faster sampling (motion.burst_fps for motion.burst_s) started by new motion",
    ["camera"],
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
RECORDING_LEFTOVERS = Counter(
    "matthan_recorder_leftovers",
    "Recording files a killed worker left, found at the next start, by outcome: salvaged"
    " (a .partial remuxed and indexed), deleted (a .partial too short or unreadable),"
    " indexed (a finished segment that was never indexed)",
    ["camera", "outcome"],
)
EXPORTS_DELETED = Counter(
    "matthan_exports_deleted",
    "Evidence exports removed by retention (older than recording.exports_retain_days)",
)
THUMBNAILS_WRITTEN = Counter(
    "matthan_ingest_thumbnails", "Camera-wall thumbnails written", ["camera"]
)
THUMBNAIL_ERRORS = Counter(
    "matthan_ingest_thumbnail_errors",
    "Camera-wall thumbnails that could not be made or written (disk full...)",
    ["camera"],
)
