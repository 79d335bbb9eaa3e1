"""Prometheus metrics of the detection core, declared once.

Labels are bounded: camera ids and rule names come from the site config, ``reason`` and
``stage`` from the fixed sets named in each help text, class names from the model. The app
runs prometheus_client in multiprocess mode, so each gauge says how the values of processes
combine: ``livemostrecent`` keeps the latest value written by a living process (the one detector).
"""

from prometheus_client import Counter, Gauge, Histogram

BATCH_SIZE = Histogram(
    "matthan_detector_batch_size", "Frames per inference batch", buckets=(1, 2, 4, 8, 16, 32, 64)
)
INFERENCE_SECONDS = Histogram(
    "matthan_detector_inference_seconds",
    "Time one model batch took, from its start to the end of inference (a batch may wait for"
    " a free request while others run)",
    buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28),
)
FRAME_AGE_SECONDS = Histogram(
    "matthan_detector_frame_age_seconds",
    "Age of a frame (since capture) when its detections are ready",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
)
FRAMES_ANALYSED = Counter("matthan_detector_frames", "Frames analysed", ["camera"])
FRAMES_DROPPED = Counter(
    "matthan_detector_frames_dropped",
    "Frames the core did not analyse, by reason: superseded (a newer frame of the camera came"
    " first), detector_down (published while no core ran), stale (older than stale_after_s),"
    " overwritten (the ring slot was reused while being copied)",
    ["camera", "reason"],
)
QUEUE_DEPTH = Gauge(
    "matthan_detector_queue_depth",
    "Frames waiting for the detector after the last batch was chosen: stage pending (the newest"
    " frame of each camera, waiting in the ingest rings for its turn)",
    ["stage"],
    multiprocess_mode="livemostrecent",
)
DEGRADED = Gauge(
    "matthan_detector_degraded",
    "1 while the detector cannot keep up and analyses cameras below their configured rate",
    multiprocess_mode="livemostrecent",
)
EFFECTIVE_FPS = Gauge(
    "matthan_detector_effective_fps",
    "Frames per second actually analysed for the camera, over the last few seconds",
    ["camera"],
    multiprocess_mode="livemostrecent",
)
DETECTIONS = Counter("matthan_detections", "Objects detected", ["class_name"])
ALERTS = Counter("matthan_alerts", "Alerts raised", ["camera", "rule"])
ALERTS_SUPPRESSED = Counter(
    "matthan_alerts_suppressed",
    "Alerts a rule would have raised while it was cooling down from its previous one",
    ["camera", "rule"],
)
LINE_CROSSINGS_IN = Counter(
    "matthan_line_crossings_in",
    "Objects that crossed a line-crossing rule's line inwards",
    ["camera", "rule"],
)
LINE_CROSSINGS_OUT = Counter(
    "matthan_line_crossings_out",
    "Objects that crossed a line-crossing rule's line outwards",
    ["camera", "rule"],
)
REANALYSIS_JOBS = Counter(
    "matthan_reanalysis_jobs",
    "Re-analysis jobs finished, by state: done, failed or cancelled",
    ["state"],
)
REANALYSIS_FRAMES = Counter(
    "matthan_reanalysis_frames",
    "Frames analysed by re-analysis jobs (recordings or uploads), by the job's camera",
    ["camera"],
)
REANALYSIS_JOB_SECONDS = Histogram(
    "matthan_reanalysis_job_seconds",
    "Wall time of one re-analysis job, from taking it off the queue to its end",
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600),
)
REANALYSIS_QUEUED = Gauge(
    "matthan_reanalysis_queued_jobs",
    "Re-analysis jobs waiting in the queue (not counting the one running)",
    multiprocess_mode="livemostrecent",
)
LOOKS = Counter(
    "matthan_detector_looks",
    "Analysed frames by how the model looked at them: frame (whole frame, frame mode), whole"
    " (the frame covered by squares, regions mode), regions (crops where something moves or a"
    " track is due) or none (nothing to look at: no inference)",
    ["camera", "kind"],
)
MODEL_IMAGES = Counter(
    "matthan_detector_model_images",
    "Images the model ran on, by kind: frame (a letterboxed frame), crop (a region) or"
    " follow_up (a larger region around an object cut by a region's edge)",
    ["kind"],
)
MODEL_PIXELS = Counter("matthan_detector_model_pixels", "Model input pixels run through the model")
HELD_TRACKS = Counter(
    "matthan_detector_held_tracks",
    "Tracks kept in place for a frame because the model did not look where they are",
)
SIGHTINGS_KEPT = Counter(
    "matthan_sightings_kept",
    "Ended tracks whose best sighting was kept for investigation search",
    ["camera"],
)
SIGHTINGS_DROPPED = Counter(
    "matthan_sightings_dropped",
    "Ended tracks whose sighting was not kept because the keeper's queue was full (policy: the"
    " oldest waiting is dropped)",
    ["camera"],
)
SIGHTINGS_QUEUE_DEPTH = Gauge(
    "matthan_sightings_queue_depth",
    "Ended tracks waiting for their sighting to be kept",
    multiprocess_mode="livemostrecent",
)
