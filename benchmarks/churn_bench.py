"""Camera churn: a tenth of the cameras drop and come back every cycle, for minutes on end.

The farm serves 100 cameras (``--mix``: the commune mix by default, 30% busy and 70% quiet
clips, each camera at its own offset) and ``matthan run``
watches them with the production defaults (offline debounce 10 s, recording on). After a
warm-up and a quiet baseline window, every ``--cycle`` seconds the next tenth of the cameras
is stopped on the farm (their readers see the stream end, then 404s) and restored
``--down`` seconds later; the down time is longer than the debounce, so each drop must raise
exactly one "camera offline" alert. Measured, from outside as an administrator would:

- no crash: the service is alive at the end, ``/readyz`` answers 200, and no role was
  restarted (the supervisor logs every exit);
- the analysis rate of the cameras left alone (neither dropped in this cycle nor in the one
  before, whose reconnects may still be under way) stays within 10% of the baseline:
  frames the motion gate judged per second, from ``/metrics``;
- reconnect time: from the moment the farm serves a camera again to its next ``online``
  event in the store's ``camera_events``; p95 must stay under 5 s;
- offline alerts: exactly one per drop, started within the drop, none elsewhere.

Run: ``.venv/bin/python -m benchmarks.churn_bench`` (10 minutes of churn, about 12 in all),
or ``--minutes 3`` for a shorter run.
Results: ``benchmarks/results/churn-<time>.json`` and ``churn-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.camera_mix import MIXES, camera_mounts
from benchmarks.machine import machine_info, write_report
from benchmarks.pipeline_bench import free_port, percentiles, start_service
from benchmarks.service_probe import by_label, scrape
from matthan.farm import CameraFarm

RESULTS = Path(__file__).parent / "results"
JUDGED = "matthan_ingest_motion_frames_total"
FPS_TOLERANCE = 0.10
RECONNECT_P95_LIMIT_S = 5.0


@dataclass(frozen=True, slots=True)
class Drop:
    """One camera taken off the farm at ``stopped_at`` and served again at ``restored_at``."""

    camera_id: str
    cycle: int
    stopped_at: float
    restored_at: float


@dataclass(frozen=True, slots=True)
class CycleRates:
    """Judged frames per second of the undisturbed cameras in one cycle, against baseline."""

    cycle: int
    cameras: int
    fps_ratio: float
    """Their total rate in this cycle over their total baseline rate."""
    worst_camera_ratio: float


def site_yaml(farm: CameraFarm, count: int, port: int, folder: Path) -> str:
    """Production defaults; no rules (only the ingest side is churned), a small detector."""
    cameras = "\n".join(
        f'  - {{id: cam{i:03d}, name: "Camera {i}", detect_url: {farm.url(f"cam{i:03d}")}}}'
        for i in range(count)
    )
    return f"""site: {{name: "churn benchmark"}}
storage: {{database: {folder / "churn.db"}}}
recording: {{path: {folder / "rec"}, min_free_gb: 0.5}}
dashboard: {{port: {port}}}
detector: {{input_size: 320}}
cameras:
{cameras}
"""


def judged_now(base_url: str) -> dict[str, float]:
    """Frames the motion gate judged so far, per camera."""
    return by_label(scrape(base_url), JUDGED, "camera")


def rates(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    return {camera: (count - before.get(camera, 0.0)) / seconds for camera, count in after.items()}


def churn(
    farm: CameraFarm, base_url: str, ids: list[str], args: argparse.Namespace
) -> tuple[list[Drop], list[dict[str, float]], list[float]]:
    """Drop and restore a tenth of ``ids`` per cycle; returns the drops and, per cycle
    boundary, the judged-frame counters and the time they were read."""
    share = max(1, len(ids) // 10)
    cycles = max(1, round(args.minutes * 60 / args.cycle))
    drops: list[Drop] = []
    counters, stamps = [judged_now(base_url)], [time.monotonic()]
    for cycle in range(cycles):
        start = time.monotonic()
        victims = [ids[(cycle * share + k) % len(ids)] for k in range(share)]
        stopped_at = {}
        for camera in victims:
            farm.stop_mount(camera)
            stopped_at[camera] = time.time()
        time.sleep(max(0.0, args.down - (time.monotonic() - start)))
        for camera in victims:
            farm.start_mount(camera)
            drops.append(Drop(camera, cycle, stopped_at[camera], time.time()))
        time.sleep(max(0.0, args.cycle - (time.monotonic() - start)))
        counters.append(judged_now(base_url))
        stamps.append(time.monotonic())
        print(f"cycle {cycle + 1}/{cycles}: dropped {victims[0]}..{victims[-1]}", flush=True)
    return drops, counters, stamps


def undisturbed_rates(
    baseline: dict[str, float],
    drops: list[Drop],
    counters: list[dict[str, float]],
    stamps: list[float],
) -> list[CycleRates]:
    """Per cycle, the cameras neither dropped in it nor in the cycle before, against baseline."""
    out = []
    for cycle in range(len(counters) - 1):
        touched = {d.camera_id for d in drops if d.cycle in (cycle, cycle - 1)}
        now = rates(counters[cycle], counters[cycle + 1], stamps[cycle + 1] - stamps[cycle])
        calm = [c for c in baseline if c not in touched and baseline[c] > 0]
        ratios = [now.get(c, 0.0) / baseline[c] for c in calm]
        total = sum(now.get(c, 0.0) for c in calm) / sum(baseline[c] for c in calm)
        out.append(CycleRates(cycle, len(calm), round(total, 3), round(min(ratios), 3)))
    return out


def reconnect_times(database: Path, drops: list[Drop]) -> list[float]:
    """Seconds from each restore to the camera's next ``online`` event (inf if none)."""
    times = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        for drop in drops:
            row = db.execute(
                "SELECT MIN(at) FROM camera_events WHERE camera_id = ? AND state = 'online'"
                " AND at >= ?",
                (drop.camera_id, drop.restored_at),
            ).fetchone()
            times.append(row[0] - drop.restored_at if row[0] is not None else float("inf"))
    return times


def offline_alerts(database: Path, drops: list[Drop], since: float) -> dict[str, int]:
    """How the "camera offline" alerts raised during the churn match the drops."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        alerts = db.execute(
            "SELECT camera_id, started_at, ended_at FROM alerts"
            " WHERE kind = 'camera_offline' AND started_at >= ?",
            (since,),
        ).fetchall()
    per_drop = [
        sum(
            1
            for camera, started, _ in alerts
            if camera == d.camera_id and d.stopped_at - 1 <= started <= d.restored_at
        )
        for d in drops
    ]
    matched = sum(per_drop)
    return {
        "drops": len(drops),
        "alerts": len(alerts),
        "drops_with_exactly_one": sum(1 for n in per_drop if n == 1),
        "drops_with_none": sum(1 for n in per_drop if n == 0),
        "drops_with_several": sum(1 for n in per_drop if n > 1),
        "alerts_outside_drops": len(alerts) - matched,
        "alerts_still_open": sum(1 for _, _, ended in alerts if ended is None),
    }


def ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=10) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_all_judged(base_url: str, count: int, timeout_s: float) -> None:
    """Until every camera's frames reach the motion gate (all connected and decoding)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(1 for value in judged_now(base_url).values() if value > 0) >= count:
            return
        time.sleep(2)
    raise TimeoutError(f"not every one of {count} cameras streams after {timeout_s} s")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark: farm, service, warm-up, baseline, churn, verdict."""
    folder = Path(tempfile.mkdtemp(prefix="matthan-churn-"))
    port, ids = free_port(), [f"cam{i:03d}" for i in range(args.cameras)]
    try:
        with CameraFarm(camera_mounts(args.cameras, args.mix)) as farm:
            config = folder / "site.yaml"
            config.write_text(site_yaml(farm, args.cameras, port, folder), encoding="utf-8")
            log = folder / "matthan.log"
            service = start_service(config, port, log)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_all_judged(base, args.cameras, 120)
                time.sleep(args.warmup)
                before, t0 = judged_now(base), time.monotonic()
                time.sleep(args.baseline)
                baseline = rates(before, judged_now(base), time.monotonic() - t0)
                churn_start = time.time()
                drops, counters, stamps = churn(farm, base, ids, args)
                time.sleep(args.settle)
                alive, is_ready = service.poll() is None, ready(base)
            finally:
                service.send_signal(signal.SIGINT)
                exit_status = wait_exit(service)
            database = folder / "churn.db"
            reconnects = reconnect_times(database, drops)
            alerts = offline_alerts(database, drops, churn_start)
            restarts = log.read_text(encoding="utf-8", errors="replace").count(" exited with ")
    finally:
        if args.keep:
            print(f"kept {folder}", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    cycles = undisturbed_rates(baseline, drops, counters, stamps)
    return verdict(args, baseline, cycles, reconnects, alerts) | {
        "service": {
            "alive_at_end": alive,
            "ready_at_end": is_ready,
            "role_restarts": restarts,
            "exit_status": exit_status,
        },
        "load_average_at_end": os.getloadavg(),
        "cycles": [asdict(cycle) for cycle in cycles],
        "drops": [[d.camera_id, round(d.stopped_at, 2), round(d.restored_at, 2)] for d in drops],
    }


def wait_exit(service: subprocess.Popen[bytes]) -> int | None:
    try:
        return service.wait(60)
    except subprocess.TimeoutExpired:
        service.kill()
        return None


def verdict(
    args: argparse.Namespace,
    baseline: dict[str, float],
    cycles: list[CycleRates],
    reconnects: list[float],
    alerts: dict[str, int],
) -> dict[str, Any]:
    """The figures, and whether each meets its target."""
    finite = sorted(t for t in reconnects if t != float("inf"))
    p95 = percentiles(finite)["p95"] if len(finite) == len(reconnects) else None
    worst = min(cycle.fps_ratio for cycle in cycles)
    return {
        "cameras": args.cameras,
        "mix": args.mix,
        "minutes": args.minutes,
        "baseline_fps_per_camera_median": round(statistics.median(baseline.values()), 2),
        "undisturbed_fps_ratio_min": worst,
        "undisturbed_fps_ratio_median": statistics.median(c.fps_ratio for c in cycles),
        "reconnect_s": percentiles(finite) | {"max": max(finite, default=None)},
        "reconnects_missing": len(reconnects) - len(finite),
        "offline_alerts": alerts,
        "targets": {
            "fps_within_10pct": abs(1 - worst) <= FPS_TOLERANCE,
            "reconnect_p95_under_5s": p95 is not None and p95 < RECONNECT_P95_LIMIT_S,
            "one_alert_per_drop": alerts["drops_with_exactly_one"] == alerts["drops"]
            and alerts["alerts_outside_drops"] == 0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument(
        "--mix", choices=sorted(MIXES), default="commune", help="clips the cameras show"
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the churn")
    parser.add_argument("--cycle", type=float, default=30.0, help="seconds between drops")
    parser.add_argument("--down", type=float, default=15.0, help="seconds a camera stays down")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--baseline", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=20.0, help="after the last restore")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the store, log and recordings")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    result = run(args) | {"load_average_at_start": load_at_start}
    report = {
        "benchmark": "churn",
        "machine": machine_info(),
        "command": " ".join(["python -m benchmarks.churn_bench", *sys.argv[1:]]),
        "config": vars(args) | {"out": str(args.out)},
        "result": result,
    }
    write_report(args.out, "churn", report)
    print(json.dumps({k: v for k, v in result.items() if k != "cycles"}, indent=2))


if __name__ == "__main__":
    main()
