"""Prometheus metrics of the detection core, declared once."""

from prometheus_client import Counter, Histogram

BATCH_SIZE = Histogram(
    "matthan_detector_batch_size", "Frames per inference batch", buckets=(1, 2, 4, 8, 16, 32, 64)
)
INFERENCE_SECONDS = Histogram(
    "matthan_detector_inference_seconds",
    "Wall time of one batch: preprocess, inference and NMS",
    buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28),
)
FRAME_AGE_SECONDS = Histogram(
    "matthan_detector_frame_age_seconds",
    "Age of a frame (since capture) when its detections are ready",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
)
FRAMES_ANALYSED = Counter("matthan_detector_frames", "Frames analysed", ["camera"])
FRAMES_DROPPED = Counter(
    "matthan_detector_frames_dropped", "Frames the core skipped, by reason", ["camera", "reason"]
)
DETECTIONS = Counter("matthan_detections", "Objects detected", ["class_name"])
ALERTS = Counter("matthan_alerts", "Alerts raised", ["camera", "rule"])
