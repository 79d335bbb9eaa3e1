"""The whole pipeline on recorded clips served as cameras, against stock ultralytics.

For each camera count N: the farm serves N cameras (a mix of the clip library, each at its
own offset), ``matthan run`` analyses them with the production config style (5 fps
analysis, motion gate, batched OpenVINO, a zone rule per camera), and the harness
measures from outside, over a window after warm-up: analysis fps per camera, detector
throughput and drops by reason, batch fill, frame age, alert latency (capture to arrival
on the dashboard WebSocket), CPU and memory. The largest N that holds real time is
reported, next to ultralytics' multi-stream predict on the same cameras in the same run
(``benchmarks/baseline_ultralytics.py`` in ``.venv-ref``), and the event recall of the
gated live pipeline against detection on every frame (:mod:`benchmarks.recall`).

Run: ``.venv/bin/python -m benchmarks.pipeline_bench`` (about 15 minutes), or
``--smoke`` for the few-second check that CI runs.
Results: ``benchmarks/results/pipeline-<time>.json``, ``latest.json`` and ``latest.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.camera_mix import camera_id, camera_mounts
from benchmarks.farm import CameraFarm, default_clips_dir
from benchmarks.machine import machine_info, process_cpu_seconds, process_rss_bytes
from benchmarks.plot import plot_fps
from benchmarks.production import production_detector
from benchmarks.service_probe import (
    AlertListener,
    by_label,
    delta,
    histogram_quantile,
    process_tree,
    scrape,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
REF_PYTHON = REPO / ".venv-ref" / "bin" / "python"
USER, PASSWORD = "bench", "bench-password-1"
REALTIME_FPS_SHARE = 0.95
MAX_DROP_SHARE = 0.05
MAX_FRAME_AGE_S = 1.0


def site_yaml(
    farm: CameraFarm, count: int, port: int, folder: Path, *, fps: float, input_size: int | None
) -> str:
    cameras = "\n".join(
        f"""  - id: cam{i:03d}
    name: "Camera {i}"
    area: "Khu {i % 7}"
    detect_url: {farm.url(f"cam{i:03d}")}
    zones:
      - name: all
        points: [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    rules:
      - kind: intrusion
        name: intrusion
        zone: all
        classes: [person, car, bicycle, motorcycle, bus, truck]
        cooldown_s: 10"""
        for i in range(count)
    )
    return f"""site: {{name: "pipeline benchmark"}}
storage: {{database: {folder / "bench.db"}}}
recording: {{path: {folder / "rec"}}}
dashboard: {{port: {port}}}
detector: {production_detector(input_size)}
ingest: {{analysis_fps: {fps}}}
cameras:
{cameras}
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_service(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MATTHAN_PASSWORD": PASSWORD}
    matthan = [sys.executable, "-m", "matthan.cli"]
    subprocess.run(
        [*matthan, "user", "add", "-c", str(config), USER, "--role", "admin"],
        check=True,
        env=env,
        capture_output=True,
    )
    with log.open("wb") as out:
        process = subprocess.Popen([*matthan, "run", "-c", str(config)], stdout=out, stderr=out)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"matthan exited early; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return process
        except OSError:
            time.sleep(1)
    raise TimeoutError("matthan did not become ready")


def measure_ours(
    count: int, fps: float, warmup_s: float, window_s: float, input_size: int | None = None
) -> dict[str, Any]:
    """One run of the production pipeline at ``count`` cameras."""
    folder = Path(tempfile.mkdtemp(prefix="matthan-bench-"))
    port = free_port()
    with CameraFarm(camera_mounts(count)) as farm:
        config = folder / "site.yaml"
        config.write_text(
            site_yaml(farm, count, port, folder, fps=fps, input_size=input_size), encoding="utf-8"
        )
        service = start_service(config, port, folder / "matthan.log")
        base = f"http://127.0.0.1:{port}"
        try:
            listener = AlertListener(base, USER, PASSWORD)
            listener.start()
            time.sleep(warmup_s)
            pids = process_tree(service.pid)
            cpu0, farm0 = process_cpu_seconds(pids), process_cpu_seconds([farm.pid])
            before, t0 = scrape(base), time.monotonic()
            time.sleep(window_s)
            after, elapsed = scrape(base), time.monotonic() - t0
            cpu = (process_cpu_seconds(pids) - cpu0) / elapsed
            farm_cpu = (process_cpu_seconds([farm.pid]) - farm0) / elapsed
            pss = process_rss_bytes(process_tree(service.pid))
            listener.stop()
        finally:
            service.send_signal(signal.SIGINT)
            service.wait(60)
    window_start = time.time() - elapsed
    latencies = sorted(
        1000 * lag for started, lag in listener.latencies_s if started >= window_start - 5
    )
    return summarise(count, fps, before, after, elapsed) | {
        "cpu_cores_used": round(cpu, 2),
        "farm_cpu_cores": round(farm_cpu, 2),
        "rss_mb_per_camera": round(pss / 1e6 / count, 2),
        "rss_mb_total": round(pss / 1e6, 1),
        "alerts_in_window": len(latencies),
        "alert_latency_ms": percentiles(latencies),
    }


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}

    def pick(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 1)

    return {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99)}


def summarise(
    count: int, fps: float, before: dict[Any, float], after: dict[Any, float], elapsed: float
) -> dict[str, Any]:
    """Rates between two scrapes, and whether they hold real time."""

    def changed(name: str, label: str = "") -> dict[str, float]:
        return delta(by_label(after, name, label), by_label(before, name, label))

    judged = changed("matthan_ingest_motion_frames_total", "camera")
    analysed = changed("matthan_detector_frames_total", "camera")
    handed = sum(changed("matthan_ingest_frames_handed_off_total", "camera").values())
    drops = changed("matthan_detector_frames_dropped_total", "reason")
    drops_ingest = changed("matthan_ingest_frames_dropped_total", "reason")
    batches = changed("matthan_detector_batch_size_count")
    batch_sum = changed("matthan_detector_batch_size_sum")
    per_camera = [judged.get(camera_id(i), 0.0) / elapsed for i in range(count)]
    dropped = sum(drops.values()) + sum(drops_ingest.values())
    drop_share = dropped / handed if handed else 0.0
    age_p95 = histogram_quantile(after, before, "matthan_detector_frame_age_seconds", 0.95)
    median_fps = statistics.median(per_camera) if per_camera else 0.0
    return {
        "cameras": count,
        "target_fps": fps,
        "analysis_fps_per_camera_median": round(median_fps, 2),
        "analysis_fps_per_camera_min": round(min(per_camera, default=0.0), 2),
        "detector_images_per_s": round(sum(analysed.values()) / elapsed, 1),
        "gate_pass_share": round(handed / max(1.0, sum(judged.values())), 3),
        "drops_per_s": {k: round(v / elapsed, 2) for k, v in (drops | drops_ingest).items()},
        "drop_share": round(drop_share, 3),
        "mean_batch": round(sum(batch_sum.values()) / max(1.0, sum(batches.values())), 2),
        "frame_age_p95_s": age_p95,
        "realtime": median_fps >= REALTIME_FPS_SHARE * fps
        and drop_share <= MAX_DROP_SHARE
        and (age_p95 is None or age_p95 <= MAX_FRAME_AGE_S),
        "window_s": round(elapsed, 1),
    }


def measure_baseline(count: int, model: Path, warmup_s: float, window_s: float) -> dict[str, Any]:
    """Stock ultralytics multi-stream predict on ``count`` farm cameras."""
    with CameraFarm(camera_mounts(count)) as farm:
        urls = [farm.url(f"cam{i:03d}") for i in range(count)]
        command = [str(REF_PYTHON), str(Path(__file__).parent / "baseline_ultralytics.py")]
        command += ["--model", str(model), "--warmup", str(warmup_s), "--window", str(window_s)]
        out = subprocess.run(
            [*command, "--urls", *urls], capture_output=True, text=True, timeout=900, check=True
        )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["realtime"] = result["fps_per_stream_min"] >= REALTIME_FPS_SHARE * 5.0
    return result


def largest_realtime(runs: list[dict[str, Any]]) -> int:
    return max((run["cameras"] for run in runs if run["realtime"]), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[25, 50, 100, 150])
    parser.add_argument("--baseline-cameras", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=25.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--no-recall", action="store_true")
    parser.add_argument("--input-size", type=int, default=None, help="override the config's")
    parser.add_argument("--recall-seconds", type=float, default=60.0, help="footage per clip")
    parser.add_argument(
        "--smoke", action="store_true", help="2 cameras, seconds: checks the harness"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.smoke:
        args.cameras, args.baseline_cameras, args.warmup, args.window = [2], [1], 8.0, 6.0
    model = default_clips_dir().parent / "models" / "yolov8n.pt"
    ours = []
    for count in args.cameras:
        ours.append(measure_ours(count, args.fps, args.warmup, args.window, args.input_size))
        print(json.dumps(ours[-1]), flush=True)
    baseline = []
    for count in args.baseline_cameras:
        baseline.append(measure_baseline(count, model, args.warmup / 2, args.window))
        print(json.dumps(baseline[-1]), flush=True)
    recall = None
    if not args.no_recall:
        from benchmarks.recall import measure_recall

        recall = measure_recall(seconds=args.recall_seconds, smoke=args.smoke)
        print(json.dumps(recall["summary"]), flush=True)
    write_report(args, ours, baseline, recall)


def write_report(
    args: argparse.Namespace,
    ours: list[dict[str, Any]],
    baseline: list[dict[str, Any]],
    recall: dict[str, Any] | None,
) -> None:
    best = max((r for r in ours if r["realtime"]), key=lambda r: r["cameras"], default=None)
    latency = (best or ours[-1])["alert_latency_ms"]
    summary = {
        "max_realtime_cameras": largest_realtime(ours),
        "baseline_max_realtime_cameras": largest_realtime(baseline),
        "event_recall": recall["summary"]["event_recall"] if recall else None,
        "false_alerts_per_hour": recall["summary"]["false_alerts_per_hour"] if recall else None,
        "alert_latency_ms_p50": latency["p50"],
        "alert_latency_ms_p99": latency["p99"],
        "rss_mb_per_camera": (best or ours[-1])["rss_mb_per_camera"],
    }
    report = {
        "benchmark": "pipeline",
        "smoke": args.smoke,
        "machine": machine_info(),
        "command": " ".join(["python -m benchmarks.pipeline_bench", *sys.argv[1:]]),
        "config": {
            "analysis_fps": args.fps,
            "warmup_s": args.warmup,
            "window_s": args.window,
            "detector": json.loads(production_detector(args.input_size)),
        },
        "summary": summary,
        "ours": ours,
        "baseline": baseline,
        "recall": recall,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    prefix = "smoke" if args.smoke else "pipeline"
    names = [f"{prefix}-{stamp}.json"] + ([] if args.smoke else ["latest.json"])
    for name in names:
        (args.out / name).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_fps(ours, baseline, args.fps, args.out / ("smoke.png" if args.smoke else "latest.png"))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
