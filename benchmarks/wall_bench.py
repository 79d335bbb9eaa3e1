"""How many live tiles this machine plays at once: the live wall at 1, 4, 9 and 16 tiles.

The farm serves 16 cameras (the busy mix: 8 clips, each camera at its own offset) and
``matthan run`` watches them as a station does (analysis at ``--analysis-fps``, recording
off, the live caps raised to 16 views per user). Chromium logs in and opens the live wall
(``/wall/live``) with a layout of 1, 4, 9 and then 16 tiles, each tile a WebRTC view of
another camera with its detections drawn over it. For each grid, after a warm-up, over a
``--window`` of seconds:

- each tile's decoded frames per second (``framesDecoded`` of its peer connection's inbound
  video) and that as a share of its clip's own rate (a tile "plays" at 90% or more);
- the CPU of the browser (every Chromium process), of the service (``matthan run`` and its
  roles), of the farm and of the whole machine, in cores (CPU seconds per second); the same
  window with no tile open first (``grid`` 0) is the service's cost without live view;
- the server's open peer connections (``matthan_dashboard_webrtc_viewers``).

The machine plays a grid when every tile of it plays. Run it alone (``uptime`` first):
``.venv/bin/python -m benchmarks.wall_bench``. Results: ``benchmarks/results/wall-<time>.json``
and ``wall-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
from playwright.sync_api import Page, sync_playwright

from benchmarks.camera_mix import camera_mounts
from benchmarks.machine import CLOCK_TICKS, cpu_seconds_by_pid, machine_info, write_report
from benchmarks.pipeline_bench import free_port
from benchmarks.service_probe import by_label, healthy, metrics_token, process_tree, scrape
from matthan.farm import CameraFarm, Mount

RESULTS = Path(__file__).parent / "results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
USER, PASSWORD = "bench-wall", "mật-khẩu-đo-tường-hình"
GRIDS = (1, 4, 9, 16)
PLAYS_AT = 0.9
"""A tile plays when it decodes at least this share of its clip's frame rate."""
FRAMES = "() => Promise.all(window.matthan.wall.tiles.map((tile) => tile.framesDecoded()))"
SAVE = """async ([name, layout]) => {
  const { api } = await import("/static/lib/api.js");
  await api(`/api/wall/layouts/${encodeURIComponent(name)}`, { method: "PUT", body: layout });
}"""


def site_yaml(farm: CameraFarm, mounts: list[Mount], port: int, analysis_fps: float) -> str:
    cameras = "".join(
        f'  - {{id: {m.name}, name: "Camera {m.name}", detect_url: "{farm.url(m.name)}",'
        " record: false}\n"
        for m in mounts
    )
    return (
        'site: {name: "wall bench"}\nstorage: {database: data/wall-bench.db}\n'
        f"dashboard: {{port: {port}, language: vi, live_peers_per_user: 16,"
        " live_peers_per_site: 32}\n"
        f"ingest: {{analysis_fps: {analysis_fps}}}\ncameras:\n{cameras}"
    )


def clip_fps(clip: Path) -> float:
    with av.open(str(clip)) as container:
        rate = container.streams.video[0].average_rate
        assert rate is not None
        return float(rate)


@contextmanager
def service(config: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``matthan run`` with a viewer of all areas; stopped (SIGINT) at the end."""
    metrics_token()  # in the environment the service inherits, for scrape()
    matthan = [sys.executable, "-m", "matthan.cli"]
    env = {**os.environ, "MATTHAN_PASSWORD": PASSWORD}
    add = [*matthan, "user", "add", "-c", str(config), USER, "--role", "viewer"]
    subprocess.run(add, check=True, env=env, capture_output=True, cwd=config.parent)
    log = (config.parent / "matthan.log").open("wb")
    process = subprocess.Popen(
        [*matthan, "run", "-c", str(config)], stdout=log, stderr=log, cwd=config.parent
    )
    try:
        deadline = time.monotonic() + 90
        while not healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"matthan did not start; see {log.name}")
            time.sleep(1)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def chromium_pids() -> list[int]:
    """Every Chromium process under this one (the browser, its renderers, GPU and utility)."""
    pids = []
    for pid in process_tree(os.getpid()):
        try:
            name = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if "chrom" in name or "headless" in name:
            pids.append(pid)
    return pids


def cpu_now(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds of each group of processes, and of the whole machine (``machine``)."""
    used = {name: sum(cpu_seconds_by_pid(pids).values()) for name, pids in groups.items()}
    return used | {"machine": machine_busy_seconds()}


def machine_busy_seconds() -> float:
    """CPU seconds every process of the machine used (ours and anyone else's), /proc/stat."""
    fields = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS


def baseline(
    page: Page, base: str, groups: dict[str, list[int]], window_s: float
) -> dict[str, Any]:
    """The same window with no live tile open (the thumbnails wall): what the service costs
    without live view, to tell the live view's own cost."""
    page.goto(f"{base}/cameras")
    page.wait_for_timeout(5000)
    cpu0, t0 = cpu_now(groups), time.monotonic()
    page.wait_for_timeout(window_s * 1000)
    cpu1, elapsed = cpu_now(groups), time.monotonic() - t0
    return {
        "grid": 0,
        "cpu_cores": {name: round((cpu1[name] - cpu0[name]) / elapsed, 2) for name in cpu0},
    }


def measure_grid(
    page: Page,
    grid: int,
    *,
    base: str,
    mounts: list[Mount],
    rates: dict[str, float],
    groups: dict[str, list[int]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Open the wall with ``grid`` tiles, wait, and measure one window."""
    cameras = [mount.name for mount in mounts[:grid]]
    layout = {
        "grid": grid,
        "tiles": [{"camera_id": camera, "pinned": False} for camera in cameras],
        "pull_alerts": False,
    }
    page.evaluate(SAVE, [f"bench-{grid}", layout])
    page.goto(f"{base}/wall/live")
    page.wait_for_function(
        f"() => window.matthan?.wall && window.matthan.wall.tiles.length === {grid}"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = page.evaluate("() => window.matthan.wall.tiles.map((tile) => tile.state)")
        if all(state == "playing" for state in states):
            break
        page.wait_for_timeout(500)
    page.wait_for_timeout(args.warmup * 1000)
    groups["browser"] = chromium_pids()
    frames0, cpu0, t0 = page.evaluate(FRAMES), cpu_now(groups), time.monotonic()
    page.wait_for_timeout(args.window * 1000)
    frames1, cpu1, t1 = page.evaluate(FRAMES), cpu_now(groups), time.monotonic()
    elapsed = t1 - t0
    tiles = []
    for camera, before, after, state in zip(cameras, frames0, frames1, states, strict=True):
        fps = (after - before) / elapsed
        tiles.append(
            {
                "camera": camera,
                "state": state,
                "decoded_fps": round(fps, 2),
                "clip_fps": round(rates[camera], 2),
                "share": round(fps / rates[camera], 3),
            }
        )
    viewers = by_label(scrape(base), "matthan_dashboard_webrtc_viewers", "camera")
    shares = [tile["share"] for tile in tiles]
    return {
        "grid": grid,
        "plays": all(share >= PLAYS_AT for share in shares),
        "tiles_playing": sum(share >= PLAYS_AT for share in shares),
        "share_min": min(shares),
        "decoded_fps_total": round(sum(tile["decoded_fps"] for tile in tiles), 1),
        "cpu_cores": {name: round((cpu1[name] - cpu0[name]) / elapsed, 2) for name in cpu0},
        "server_peers": sum(viewers.values()),
        "tiles": tiles,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="matthan-wall-"))
    mounts = camera_mounts(max(GRIDS), "busy")
    rates = {mount.name: clip_fps(mount.clip) for mount in mounts}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    grids = []
    try:
        with CameraFarm(mounts) as farm:
            config = folder / "site.yaml"
            config.write_text(site_yaml(farm, mounts, port, args.analysis_fps), encoding="utf-8")
            with service(config, port) as process, sync_playwright() as playwright:
                groups = {"service": process_tree(process.pid), "farm": process_tree(farm.pid)}
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                page.goto(f"{base}/login")
                page.fill("#username", USER)
                page.fill("#password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_url(f"{base}/")
                page.goto(f"{base}/wall/live")
                page.wait_for_function("() => window.matthan?.wall !== undefined")
                time.sleep(args.settle)  # the service's start-up work (model, first frames)
                groups["browser"] = chromium_pids()
                grids.append(baseline(page, base, groups, args.window))
                print(json.dumps(grids[-1]), flush=True)
                for grid in GRIDS:
                    groups["service"] = process_tree(process.pid)
                    measured = measure_grid(
                        page, grid, base=base, mounts=mounts, rates=rates, groups=groups, args=args
                    )
                    grids.append(measured)
                    print(
                        json.dumps({k: v for k, v in measured.items() if k != "tiles"}), flush=True
                    )
                browser.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    played = [grid["grid"] for grid in grids if grid.get("plays")]
    return {"grids": grids, "most_tiles_played": max(played, default=0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--analysis-fps", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured per grid")
    parser.add_argument("--settle", type=float, default=10.0, help="after the service starts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    result = run(args) | {
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
    }
    report = {
        "benchmark": "wall",
        "machine": machine_info(),
        "command": " ".join(["python -m benchmarks.wall_bench", *sys.argv[1:]]),
        "config": vars(args) | {"out": str(args.out)},
        "result": result,
    }
    write_report(args.out, "wall", report)
    print(json.dumps({k: v for k, v in result.items() if k != "grids"}, indent=2))


if __name__ == "__main__":
    main()
