"""The stock baseline: ultralytics' own multi-stream predict on the same RTSP cameras.

Runs in the separate ``.venv-ref`` (ultralytics + torch; torch never enters matthan's
runtime), standalone: it imports nothing of matthan. It reads a ``.streams`` file of RTSP
URLs the way the ultralytics documentation shows (``YOLO(path).predict(source=...,
stream=True)``), lets it warm up, then counts for ``--window`` seconds how many results
each stream produced, and prints one JSON object: fps per stream, CPU cores used, resident
memory, and the time each batch took (the baseline has no capture timestamps, so its
latency is approximated by the batch time plus one frame interval).

``--model`` is what ``YOLO()`` loads: ``yolov8n.pt`` (torch), or the folder of ultralytics'
own OpenVINO export of it (``yolov8n_openvino_model/``, static at the ``--imgsz`` it was
exported at; ultralytics then letterboxes to the square and runs a batch image by image).

Run (the benchmark harness does this, with ``YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0``):
``.venv-ref/bin/python benchmarks/baseline_ultralytics.py --model ../shared/models/yolov8n.pt
--imgsz 640 --urls URL...``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(
    model_path: str, urls: list[str], imgsz: int, warmup_s: float, window_s: float
) -> dict[str, object]:
    from ultralytics import YOLO

    folder = Path(tempfile.mkdtemp(prefix="baseline-"))
    streams = folder / "list.streams"
    streams.write_text("\n".join(urls) + "\n", encoding="utf-8")
    model = YOLO(model_path)
    opened = time.monotonic()
    counts: Counter[str] = Counter()
    batch_times: list[float] = []
    started = window_start = cpu_start = None
    last = time.monotonic()
    for result in model.predict(source=str(streams), stream=True, imgsz=imgsz, verbose=False):
        now = time.monotonic()
        if started is None:
            started = now
        elif window_start is None and now - started >= warmup_s:
            window_start, cpu_start = now, cpu_seconds()
        if window_start is not None:
            # result.path is the stream's URL with special characters replaced.
            first = not counts or result.path == next(iter(counts))
            counts[result.path] += 1
            if first:
                batch_times.append(sum(result.speed.values()) / 1000)
            if now - window_start >= window_s:
                break
        last = now
    shutil.rmtree(folder, ignore_errors=True)
    assert window_start is not None
    assert cpu_start is not None
    assert started is not None
    elapsed = last - window_start
    fps = {path: counts[path] / elapsed for path in counts}
    fps.update({f"missing-{i}": 0.0 for i in range(len(urls) - len(fps))})
    return {
        "cameras": len(urls),
        "open_s": round(started - opened, 1),
        "fps_per_stream": [round(v, 2) for v in fps.values()],
        "fps_per_stream_median": round(statistics.median(fps.values()), 2),
        "fps_per_stream_min": round(min(fps.values()), 2),
        "cpu_cores_used": round((cpu_seconds() - cpu_start) / elapsed, 3),
        "rss_mb": round(rss_mb(), 1),
        "batch_time_ms_median": round(1000 * statistics.median(batch_times), 1)
        if batch_times
        else None,
        "window_s": round(elapsed, 1),
        "pid": os.getpid(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--urls", nargs="+", required=True)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    print(json.dumps(run(args.model, args.urls, args.imgsz, args.warmup, args.window)), flush=True)
    os._exit(0)  # ultralytics' stream reader threads do not stop on their own


if __name__ == "__main__":
    main()
