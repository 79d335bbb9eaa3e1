"""Prometheus metrics of plate reading (declared once; see :mod:`detect.metrics` for labels).

Reads per second are ``rate(matthan_plate_crops_total[1m])``; ``outcome`` is ``read`` (a plate
in a Vietnamese format was read), ``none`` (no plate read on the crop) or ``main_missing``
(the recorded main stream had no picture of the moment; the analysed frame was read instead).
"""

from prometheus_client import Counter, Gauge, Histogram

CROPS_READ = Counter(
    "matthan_plate_crops", "Vehicle crops the plate reader read, by outcome", ["camera", "outcome"]
)
CROPS_DROPPED = Counter(
    "matthan_plate_crops_dropped",
    "Vehicle crops dropped before reading because the plate queue was full (policy: the"
    " oldest waiting crop is dropped)",
    ["camera"],
)
READ_SECONDS = Histogram(
    "matthan_plate_read_seconds",
    "Time to read one crop's plate (picture fetch excluded)",
    buckets=(0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5),
)
MAIN_PICTURE_SECONDS = Histogram(
    "matthan_plate_main_picture_seconds",
    "Time to get the recorded main stream's picture of a moment (waiting for it included)",
    buckets=(0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0),
)
MAIN_FRAMES_DECODED = Counter(
    "matthan_plate_main_frames_decoded",
    "Main-stream frames decoded to get plate pictures (the cost of stream: record)",
    ["camera"],
)
TRACKS_READ = Counter("matthan_plate_tracks", "Vehicle tracks that got a plate read", ["camera"])
WATCH_HITS = Counter(
    "matthan_plate_watch_hits", "Plate reads that matched the watch list", ["camera"]
)
QUEUE_DEPTH = Gauge(
    "matthan_plate_queue_depth",
    "Vehicle crops waiting for the plate reader",
    multiprocess_mode="livemostrecent",
)
