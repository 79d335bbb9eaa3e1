"""Ingest alone, no detector: how many cameras the readers keep up with on this machine.

For each camera count N, the camera farm serves N mounts (a mix of the clip library, each
camera at its own offset), the production ingest workers read them (decode, sample at the
analysis rate, motion gate, tamper checks, recording by remux) and publish their frames in
the shard rings as for the detector (no detector reads them). Over a measurement window it
records, per N: achieved analysis fps per camera (frames the gate judged) against the target, frames
handed off, CPU cores used by the ingest workers (and by the farm, separately), and
resident memory per camera (PSS: shared pages split between the processes that map them).

The busy mix is also measured against its physical floor (``--floor``, on for busy by default):
a bare PyAV decode loop of the same streams (:mod:`benchmarks.decode_floor`), run after the
workers in a farm serving the same mounts, once per camera count. Each row then gives CPU
milliseconds per camera-second for production ingest and for the floor, and their ratio.

Run: ``.venv/bin/python -m benchmarks.ingest_bench [--cameras 25 50 100 150] [--window 30]``
Results: ``benchmarks/results/ingest-<time>.json`` and ``ingest-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.camera_mix import MIXES, Mix, camera_mounts
from benchmarks.decode_floor import FloorResult, measure_floor
from benchmarks.machine import machine_info, process_cpu_seconds, process_rss_bytes, write_report
from matthan.farm import CameraFarm

RESULTS = Path(__file__).parent / "results"


def site_config(
    farm: CameraFarm, count: int, fps: float, recordings: Path, idle_after_s: float | None
) -> Any:
    """``idle_after_s``: seconds without motion after which a camera decodes keyframes only
    (None: always everything)."""
    from common.config import SiteConfig

    return SiteConfig.model_validate(
        {
            "site": {"name": "ingest benchmark"},
            "ingest": {"analysis_fps": fps},
            "recording": {"path": str(recordings), "segment_s": 60},
            "cameras": [
                {
                    "id": f"cam{index:03d}",
                    "name": f"cam {index}",
                    "detect_url": farm.url(f"cam{index:03d}"),
                    "motion": {"idle_keyframes_only_after_s": idle_after_s},
                }
                for index in range(count)
            ],
        }
    )


def published(rings: list[Any]) -> dict[str, int]:
    """Frames each camera has published in its ring so far (its newest sequence number)."""
    return {
        camera: int(seq)
        for ring in rings
        for camera, seq in zip(ring.cameras, ring.latest(), strict=True)
    }


def collected(metrics_dir: Path) -> list[Any]:
    """The metric families the worker processes wrote to ``metrics_dir``, merged."""
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    return list(registry.collect())


def judged_per_camera(metrics_dir: Path) -> dict[str, float]:
    """Frames the motion gate judged, per camera, summed over the worker processes."""
    totals: dict[str, float] = defaultdict(float)
    for family in collected(metrics_dir):
        if family.name == "matthan_ingest_motion_frames":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    totals[sample.labels["camera"]] += sample.value
    return totals


def keyframes_only_share(metrics_dir: Path) -> float | None:
    """Share of the cameras decoding keyframes only at the end of the window."""
    values = [
        sample.value
        for family in collected(metrics_dir)
        if family.name == "matthan_ingest_keyframes_only"
        for sample in family.samples
    ]
    return round(sum(values) / len(values), 3) if values else None


def measure(
    count: int,
    fps: float,
    window_s: float,
    warmup_s: float,
    workers: int,
    *,
    mix: Mix = "busy",
    idle_after_s: float | None = None,
) -> dict[str, Any]:
    """One run at ``count`` cameras of ``mix``."""
    scratch = Path(tempfile.mkdtemp(prefix="matthan-ingest-bench-"))
    metrics_dir = scratch / "metrics"
    metrics_dir.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    from common.channel import Channel, DropPolicy
    from common.messages import AlertNotice
    from common.roles import shard
    from common.store import Store
    from ingest.source import sources_for
    from ingest.worker import WorkerPlan, run_worker
    from matthan.rings import create_rings

    context = mp.get_context("spawn")
    try:
        with CameraFarm(camera_mounts(count, mix)) as farm:
            config = site_config(farm, count, fps, scratch / "rec", idle_after_s)
            database = scratch / "bench.db"
            Store(database).close()
            notices: Channel[AlertNotice] = Channel.create(
                context, "alert_notices", 1000, policy=DropPolicy.NEWEST
            )
            stop_event = context.Event()
            processes = []
            shards = shard(sources_for(config), workers)
            rings = create_rings(
                [[source.camera_id for source in sources] for sources in shards],
                config.ingest.analysis_size,
            )
            for index, sources in enumerate(shards):
                plan = WorkerPlan(
                    shard=index,
                    sources=tuple(sources),
                    database=database,
                    ring=rings[index].name,
                    recording=config.recording,
                    offline_alert_after_s=30,
                )
                process = context.Process(target=run_worker, args=(plan, notices, stop_event))
                process.start()
                processes.append(process)
            time.sleep(warmup_s)
            pids = [p.pid for p in processes if p.pid is not None]
            farm_pid = farm.pid
            cpu0, farm_cpu0 = process_cpu_seconds(pids), process_cpu_seconds([farm_pid])
            judged0, handed0 = judged_per_camera(metrics_dir), published(rings)
            t0 = time.monotonic()
            time.sleep(window_s)
            elapsed = time.monotonic() - t0
            cpu = (process_cpu_seconds(pids) - cpu0) / elapsed
            farm_cpu = (process_cpu_seconds([farm_pid]) - farm_cpu0) / elapsed
            judged1, handed1 = judged_per_camera(metrics_dir), published(rings)
            rss = process_rss_bytes(pids)
            keyframes_only = keyframes_only_share(metrics_dir)
            stop_event.set()
            for process in processes:
                process.join(30)
            for ring in rings:
                ring.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ids = [f"cam{index:03d}" for index in range(count)]
    judged = [(judged1.get(c, 0) - judged0.get(c, 0)) / elapsed for c in ids]
    handed = [(handed1.get(c, 0) - handed0.get(c, 0)) / elapsed for c in ids]
    return {
        "cameras": count,
        "mix": mix,
        "idle_keyframes_only_after_s": idle_after_s,
        "keyframes_only_share": keyframes_only,
        "target_fps": fps,
        "analysis_fps_per_camera_median": round(statistics.median(judged), 2),
        "analysis_fps_per_camera_p10": round(sorted(judged)[len(judged) // 10], 2),
        "handed_off_fps_per_camera_median": round(statistics.median(handed), 2),
        "motion_pass_ratio": round(sum(handed) / max(1e-9, sum(judged)), 3),
        "cpu_cores_used": round(cpu, 3),
        "farm_cpu_cores": round(farm_cpu, 3),
        "rss_mb_per_camera": round(rss / 1e6 / count, 2),
        "pss_mb_per_camera": round(rss / 1e6 / count, 2),
        "core_ms_per_camera_second": round(1000 * cpu / count, 2),
        "rss_mb_total": round(rss / 1e6, 1),
        "realtime": statistics.median(judged) >= 0.95 * fps,
        "window_s": round(elapsed, 1),
        "workers": workers,
    }


def floor_run(
    count: int, mix: Mix, *, fps: float, window_s: float, warmup_s: float, workers: int
) -> FloorResult:
    """The decode floor of ``count`` cameras of ``mix``: a farm serving the same mounts as
    :func:`measure`'s, decoded bare by as many processes as there are ingest workers."""
    mounts = camera_mounts(count, mix)
    with CameraFarm(mounts) as farm:
        return measure_floor(
            [farm.url(mount.name) for mount in mounts],
            analysis_fps=fps,
            processes=workers,
            warmup_s=warmup_s,
            window_s=window_s,
        )


def with_floor(run: dict[str, Any], floor: FloorResult | None) -> dict[str, Any]:
    """``run`` with the floor's figures and ``floor_ratio`` (production CPU per camera-second
    over the floor's); None for each when there is no floor."""
    figures: dict[str, Any] = dict.fromkeys(FLOOR_KEYS) if floor is None else floor.report()
    floor_ms = None if floor is None else floor.core_ms_per_camera_second
    ratio = None if not floor_ms else round(run["core_ms_per_camera_second"] / floor_ms, 2)
    return {**run, **figures, "floor_ratio": ratio}


FLOOR_KEYS = (
    "floor_core_ms_per_camera_second",
    "floor_cpu_cores",
    "floor_camera_seconds",
    "floor_realtime_share",
    "floor_pss_mb_per_camera",
    "floor_window_s",
)
SUMMARY_KEYS = (
    "cameras",
    "mix",
    "idle_keyframes_only_after_s",
    "analysis_fps_per_camera_median",
    "keyframes_only_share",
    "cpu_cores_used",
    "rss_mb_per_camera",
    "pss_mb_per_camera",
    "core_ms_per_camera_second",
    "floor_core_ms_per_camera_second",
    "floor_ratio",
)
TABLE = (
    ("cameras", "cams"),
    ("mix", "mix"),
    ("idle_keyframes_only_after_s", "idle s"),
    ("analysis_fps_per_camera_median", "fps"),
    ("keyframes_only_share", "kf only"),
    ("cpu_cores_used", "cores"),
    ("pss_mb_per_camera", "PSS MB/cam"),
    ("core_ms_per_camera_second", "ms/cam-s"),
    ("floor_core_ms_per_camera_second", "floor ms/cam-s"),
    ("floor_ratio", "x floor"),
)


def table(rows: list[dict[str, Any]]) -> str:
    """The summary rows as a plain text table."""
    cells = [[head for _, head in TABLE]]
    cells += [["-" if row[key] is None else str(row[key]) for key, _ in TABLE] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[25, 50, 100, 150])
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=12.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--mix", nargs="+", default=["busy", "commune"], choices=MIXES)
    parser.add_argument(
        "--idle-after",
        nargs="+",
        default=["none", "10"],
        help="keyframes-only decoding after this many idle seconds ('none': never); each is run",
    )
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure the bare-decode floor for every mix (--no-floor: for none; default: busy)",
    )
    args = parser.parse_args()
    runs = []
    mixes: list[Mix] = args.mix
    floors: dict[tuple[Mix, int], FloorResult] = {}
    for mix in mixes:
        wants_floor = args.floor or (args.floor is None and mix == "busy")
        for idle in args.idle_after:
            idle_after_s = None if idle == "none" else float(idle)
            for count in args.cameras:
                result = measure(
                    count,
                    args.fps,
                    args.window,
                    args.warmup,
                    args.workers,
                    mix=mix,
                    idle_after_s=idle_after_s,
                )
                if wants_floor and (mix, count) not in floors:
                    floors[mix, count] = floor_run(
                        count,
                        mix,
                        fps=args.fps,
                        window_s=args.window,
                        warmup_s=args.warmup,
                        workers=args.workers,
                    )
                result = with_floor(result, floors.get((mix, count)))
                print(json.dumps(result), flush=True)
                runs.append(result)
    summary = [{k: run[k] for k in SUMMARY_KEYS} for run in runs]
    report = {
        "benchmark": "ingest",
        "machine": machine_info(),
        "command": "python -m benchmarks.ingest_bench " + " ".join(sys.argv[1:]),
        "summary": summary,
        "runs": runs,
    }
    write_report(args.out, "ingest", report)
    print(table(summary))
    print(f"wrote {args.out / 'ingest-latest.json'}")


if __name__ == "__main__":
    main()
