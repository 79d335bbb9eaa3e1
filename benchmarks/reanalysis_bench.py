"""Re-analysis speed: how many seconds of video a job gets through per second of work.

A job is what an operator queues from the dashboard: here an uploaded file, the whole PETS 2009
crossroads clip (people walking throughout, 768x576 at 10 fps), analysed at the site's 5 fps
with an intrusion rule over the whole picture. What is timed is the job runner itself
(:class:`detect.reanalysis.JobRunner` on a real SQLite store): decoding, resizing, the model in
batches of ``reanalysis.batch``, tracking, rules and storing the findings. The runner here is
not ``nice``d and the rest of the service is not running, so this is the speed of an idle
station; on a busy one live analysis comes first and jobs take longer.

``speed`` is media seconds per wall-clock second (10 means an hour of recordings in 6 minutes).
Each configuration runs ``--repeats`` times, interleaved; medians are reported.

Run: ``.venv/bin/python -m benchmarks.reanalysis_bench [--sizes 320 640] [--threads 1 2]
[--repeats 3]``
Results: ``benchmarks/results/reanalysis-<time>.json`` and ``reanalysis-latest.json``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import machine_info, write_report
from common import jobs
from common.config import SiteConfig
from common.jobs import JobSource, JobState, NewJob
from common.paths import default_clips_dir
from common.store import Store
from detect.core import build_detector
from detect.reanalysis import JobRunner

RESULTS = Path(__file__).parent / "results"
CLIP = "pets09_s2l1_vtest.mp4"
MODEL = "yolov8n-int8.xml"


def site_for(size: int, threads: int, batch: int) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"name": "bench"},
            "detector": {"model": MODEL, "input_size": size},
            "reanalysis": {"threads": threads, "batch": batch},
            "cameras": [
                {
                    "id": "nga-tu",
                    "name": "Ngã tư",
                    "detect_url": "rtsp://127.0.0.1/pets",
                    "zones": [{"name": "all", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
                    "rules": [{"kind": "intrusion", "name": "nguoi", "zone": "all"}],
                }
            ],
        }
    )


def run_once(clip: Path, size: int, threads: int, batch: int) -> dict[str, Any]:
    """One upload job over ``clip`` on a fresh store; its figures."""
    site = site_for(size, threads, batch)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        detector = build_detector(site, threads)
        job_id = jobs.add_job(
            store,
            NewJob("nga-tu", JobSource.UPLOAD, 0.0, None, "bench", clip.name, str(clip)),
        )
        runner = JobRunner(site, store, detector)
        started = time.perf_counter()
        assert runner.run_next(threading.Event())
        seconds = time.perf_counter() - started
        job = jobs.job(store, job_id)
        store.close()
    if job is None or job.state != JobState.DONE:
        raise RuntimeError(f"the job did not finish: {job}")
    media_s = (job.end or 0.0) - job.start
    return {
        "seconds": round(seconds, 2),
        "media_s": round(media_s, 1),
        "frames": job.frames,
        "findings": job.alerts,
        "frames_per_s": round(job.frames / seconds, 1),
        "speed": round(media_s / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    clip = default_clips_dir() / CLIP
    grid = [(size, threads) for size in args.sizes for threads in args.threads]
    runs: dict[tuple[int, int], list[dict[str, Any]]] = {key: [] for key in grid}
    for repeat in range(args.repeats):
        for size, threads in grid:
            result = run_once(clip, size, threads, args.batch)
            runs[(size, threads)].append(result)
            print(f"repeat {repeat + 1}: {size} px, {threads} thread(s): {result}", flush=True)
    rows = []
    for (size, threads), results in runs.items():
        rows.append(
            {
                "model": MODEL,
                "input_size": size,
                "threads": threads,
                "batch": args.batch,
                "media_s": results[0]["media_s"],
                "frames": results[0]["frames"],
                "findings": results[0]["findings"],
                "frames_per_s": statistics.median(r["frames_per_s"] for r in results),
                "speed": statistics.median(r["speed"] for r in results),
                "repeats": results,
            }
        )
    print(f"\n{'size':>5} {'threads':>7} {'frames/s':>9} {'speed (media s per s)':>22}")
    for row in rows:
        size, threads = row["input_size"], row["threads"]
        print(f"{size:>5} {threads:>7} {row['frames_per_s']:>9} {row['speed']:>22}")
    report = {"benchmark": "reanalysis", "clip": CLIP, "machine": machine_info(), "runs": rows}
    write_report(args.out, "reanalysis", report)


if __name__ == "__main__":
    main()
