"""A site over several machines, measured on this one: failover time and alert delivery.

The farm serves ``--cameras`` cameras of the busy mix (people and vehicles, a rule that raises
an alert for every person or vehicle that stays 0.5 s). ``matthan run`` is the station (its
own nats-server, the dashboard, the alert intake) and ``--nodes`` processes of ``matthan node``
share the cameras by leases. After a warm-up, the node holding most cameras is killed with
``kill -9`` (``--kills`` times, a different node each time, each brought back afterwards as an
operator would). Then every node stops cleanly and the station's store is compared with the
nodes' stores.

- ``failover_s``: from the kill until another node analyses the camera (its detection core
  beat and the camera is online there, as the node reports it in the nodes bucket), one value
  per camera the killed node held.
- ``alerts_lost``: alerts committed on a node that are not in the station's store at the end;
  ``alerts_duplicated``: station rows beyond one per node alert (and any made up).
- ``live_resume_s`` (in ``result``, one per kill): an operator watches one of the killed
  node's cameras live (:class:`LiveWatch`, the station's wants and the relayed packets); from
  the kill until the first keyframe that another node relays of it.
- ``alert_delivery_ms``: node commit (``created_at`` in the node's store) to station commit
  (``created_at`` in the station's), for the alerts committed while their node was up; those a
  killed node had committed but not sent wait for its return and are counted apart.

All processes share this machine's cores, so the nodes compete with the farm and each other:
a real site gives each node its own machine. Run it alone:
``.venv/bin/python -m benchmarks.scaleout_bench``. Results:
``benchmarks/results/scaleout-<time>.json`` and ``scaleout-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg

from benchmarks.camera_mix import camera_mounts
from benchmarks.machine import machine_info, write_report
from benchmarks.pipeline_bench import free_port
from benchmarks.service_probe import healthy
from common.live_wire import WANT_EVERY_S, video_subject, want_subject
from matthan.cluster.client import NatsClient
from matthan.cluster.leases import node_reports
from matthan.farm import CameraFarm, Mount

RESULTS = Path(__file__).parent / "results"
MATTHAN = [sys.executable, "-m", "matthan.cli"]
SITE_ID = "bench"
ZONE = "[{name: all, points: [[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]]}]"


def site_yaml(
    farm: CameraFarm, mounts: list[Mount], args: argparse.Namespace, ports: dict[str, int]
) -> str:
    cameras = "".join(
        f"  - id: {m.name}\n    name: Camera {m.name}\n    detect_url: {farm.url(m.name)}\n"
        f"    zones: {ZONE}\n"
        "    rules: [{kind: intrusion, name: vao, zone: all, classes: [person, car],"
        " min_presence_s: 0.5, cooldown_s: 2}]\n"
        for m in mounts
    )
    return (
        'site: {name: "scale-out bench"}\nstorage: {database: data/station.db}\n'
        f"dashboard: {{port: {ports['http']}}}\n"
        f"ingest: {{workers: 1, analysis_fps: {args.analysis_fps}}}\n"
        "recording: {enabled: false}\nreanalysis: {enabled: false}\n"
        f'cluster: {{enabled: true, site_id: {SITE_ID}, url: "nats://127.0.0.1:{ports["nats"]}",'
        f" lease_s: {args.lease_s}}}\n"
        f"cameras:\n{cameras}"
    )


class Site:
    """The station and the nodes as processes, and what the benchmark reads of them."""

    def __init__(self, folder: Path, text: str, ports: dict[str, int]) -> None:
        self.folder = folder
        self.config = folder / "site.yaml"
        self.config.write_text(text, encoding="utf-8")
        self.env = {**os.environ, "MATTHAN_SITE_TOKEN": secrets.token_hex(24)}
        self.station = self._spawn(["run", "-c", str(self.config)], "station")
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        deadline = time.monotonic() + 90
        while not healthy(ports["http"]):
            if self.station.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the station did not start; see {folder / 'station.log'}")
            time.sleep(0.5)
        url = f"nats://127.0.0.1:{ports['nats']}"
        self.client = NatsClient.connect(url, self.env["MATTHAN_SITE_TOKEN"], name="bench")

    def _spawn(self, command: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{log}.log").open("ab") as out:
            return subprocess.Popen(
                [*MATTHAN, *command], stdout=out, stderr=out, env=self.env, cwd=self.folder
            )

    def start(self, name: str) -> None:
        self.nodes[name] = self._spawn(["node", "-c", str(self.config), "--name", name], name)

    def reports(self) -> dict[str, dict[str, Any]]:
        return self.client.run(node_reports(self.client))

    def analysed_by(self) -> dict[str, str]:
        """Each camera analysed now and the node analysing it."""
        return {
            camera: node
            for node, report in self.reports().items()
            for camera in report.get("analysing", [])
        }

    def stop(self, name: str) -> None:
        process = self.nodes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        for name in self.nodes:
            self.stop(name)
        self.client.close()
        self.station.send_signal(signal.SIGINT)
        try:
            self.station.wait(60)
        except subprocess.TimeoutExpired:
            self.station.kill()


class LiveWatch:
    """A viewer at the station of one camera live, as the station's dashboard is one: it asks
    for the camera every :data:`WANT_EVERY_S` and takes the packets the node holding it relays,
    noting when each came, from which opening of the stream, and whether it is a keyframe."""

    def __init__(self, client: NatsClient, camera: str) -> None:
        self._client = client
        self._want = want_subject(SITE_ID, camera)
        self.arrivals: list[tuple[float, str, bool]] = []
        self._stop = threading.Event()

        async def packet(message: Msg) -> None:
            headers = message.headers or {}
            self.arrivals.append(
                (time.monotonic(), headers.get("src", ""), headers.get("key") == "1")
            )

        self._subscription = client.run(
            client.nc.subscribe(video_subject(SITE_ID, camera), cb=packet)
        )
        self._thread = threading.Thread(target=self._ask, name="live-watch", daemon=True)
        self._thread.start()

    def _ask(self) -> None:
        while True:
            self._client.run(self._client.nc.publish(self._want, b""))
            if self._stop.wait(WANT_EVERY_S):
                return

    def resumed_after(self, at: float) -> float | None:
        """Seconds from ``at`` to the first keyframe of another opening than the one sending
        at ``at`` (the node that took the camera over); None if none came."""
        before = [source for when, source, _ in self.arrivals if when < at]
        old = before[-1] if before else None
        for when, source, keyframe in list(self.arrivals):
            if when >= at and source != old and keyframe:
                return when - at
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._client.run(self._subscription.unsubscribe())


def wait_for(condition: Any, timeout_s: float, what: str, poll_s: float = 0.2) -> float:
    """Seconds until ``condition()`` held; RuntimeError after ``timeout_s``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise RuntimeError(f"{what}: not within {timeout_s} s")
        time.sleep(poll_s)
    return time.monotonic() - start


def node_alerts(database: Path) -> dict[str, float]:
    """uid -> commit time of every alert a node stored (uids as its outbox sends them)."""
    if not database.exists():
        return {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        origin = db.execute("SELECT origin FROM alert_outbox").fetchone()[0]
        rows = db.execute("SELECT id, created_at FROM alerts").fetchall()
    return {f"{origin}-{row_id}": created for row_id, created in rows}


def station_alerts(database: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return [
            (str(uid), created) for uid, created in db.execute("SELECT uid, created_at FROM alerts")
        ]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def kill_one(site: Site, kill: int, args: argparse.Namespace) -> dict[str, Any]:
    """``kill -9`` the node analysing most cameras, time their takeover, bring it back."""
    held: dict[str, list[str]] = {}
    for camera, node in site.analysed_by().items():
        held.setdefault(node, []).append(camera)
    victim = max(sorted(held), key=lambda n: len(held[n]))
    cameras = sorted(held[victim])
    watch = LiveWatch(site.client, cameras[0])  # an operator watching it live
    wait_for(lambda: len(watch.arrivals) > 50, 60, f"{cameras[0]} live from {victim}")
    site.nodes[victim].kill()
    killed_at, killed_wall = time.monotonic(), time.time()
    site.nodes[victim].wait()
    moved: dict[str, float] = {}
    while len(moved) < len(cameras):
        if time.monotonic() - killed_at > 120:
            raise RuntimeError(f"{victim}'s cameras were not taken over in 120 s")
        now_by = site.analysed_by()
        for camera in cameras:
            if camera not in moved and now_by.get(camera, victim) != victim:
                moved[camera] = round(time.monotonic() - killed_at, 2)
        time.sleep(0.2)
    try:
        wait_for(lambda: watch.resumed_after(killed_at) is not None, 60, "live view resumed")
    except RuntimeError as exc:
        print(exc, flush=True)
    resumed = watch.resumed_after(killed_at)
    watch.close()
    print(
        f"kill {kill}: {victim} held {cameras}; failover {moved}; live view of {cameras[0]}"
        f" resumed after {resumed if resumed is None else round(resumed, 2)} s",
        flush=True,
    )
    time.sleep(args.after_kill)
    site.start(victim)  # the operator brings it back
    back_at = time.time()
    wait_for(lambda: len(site.analysed_by()) == args.cameras, 120, "rebalanced")
    time.sleep(args.warmup)
    return {
        "kill": kill,
        "node": victim,
        "at": killed_wall,
        "back_at": back_at,
        "failover_s": moved,
        "live_resume_s": None if resumed is None else round(resumed, 2),
    }


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    mounts = camera_mounts(args.cameras)
    ports = {"http": free_port(), "nats": free_port()}
    names = [f"n{i + 1}" for i in range(args.nodes)]
    failovers: list[float] = []
    kills: list[dict[str, Any]] = []
    with CameraFarm(mounts) as farm:
        site = Site(folder, site_yaml(farm, mounts, args, ports), ports)
        try:
            for name in names:
                site.start(name)
            wait_for(lambda: len(site.analysed_by()) == args.cameras, 240, "every camera analysed")
            time.sleep(args.warmup)
            for kill in range(args.kills):
                kills.append(kill_one(site, kill, args))
                failovers += kills[-1]["failover_s"].values()
            for name in names:
                site.stop(name)
            databases = {name: folder / "data" / "nodes" / name / "station.db" for name in names}
            by_node = {name: node_alerts(db) for name, db in databases.items()}
            at_nodes = {uid: at for alerts in by_node.values() for uid, at in alerts.items()}
            station_db = folder / "data" / "station.db"
            try:
                wait_for(
                    lambda: at_nodes.keys() <= {uid for uid, _ in station_alerts(station_db)},
                    30,
                    "every node alert at the station",
                )
            except RuntimeError as exc:
                print(exc, flush=True)
            at_station = station_alerts(station_db)
        finally:
            site.close()
    station_uids = [uid for uid, _ in at_station]
    committed = dict(at_station)
    held_back = {
        uid
        for kill in kills
        for uid, at in by_node[kill["node"]].items()
        if at < kill["at"] and committed.get(uid, 0.0) >= kill["back_at"]
    }
    live = [
        1000 * (committed[uid] - at)
        for uid, at in at_nodes.items()
        if uid in committed and uid not in held_back
    ]
    summary = {
        "nodes": args.nodes,
        "cameras": args.cameras,
        "failover_s_p50": round(statistics.median(failovers), 2),
        "failover_s_max": round(max(failovers), 2),
        "alerts_lost": len(at_nodes.keys() - set(station_uids)),
        "alerts_duplicated": len(station_uids)
        - len(set(station_uids))
        + len(set(station_uids) - at_nodes.keys()),
        "alert_delivery_ms_p99": round(percentile(live, 0.99) or 0.0, 1),
    }
    return {
        "summary": summary,
        "alerts": len(at_nodes),
        "alert_delivery_ms_p50": round(percentile(live, 0.5) or 0.0, 1),
        "alert_delivery_ms_max": round(max(live, default=0.0), 1),
        "alerts_held_back_by_a_kill": len(held_back),
        "failover_s": failovers,
        "live_resume_s": [kill["live_resume_s"] for kill in kills],
        "kills": kills,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--lease-s", type=float, default=10.0, help="the site's cluster.lease_s")
    parser.add_argument("--analysis-fps", type=float, default=2.0)
    parser.add_argument(
        "--warmup", type=float, default=20.0, help="seconds of alerts before a kill"
    )
    parser.add_argument("--after-kill", type=float, default=10.0, help="before the node returns")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = Path("data") / f"scaleout-bench-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()
    result = run(args, folder.resolve())
    report = {
        "benchmark": "scaleout",
        "machine": machine_info(),
        "command": " ".join(["python -m benchmarks.scaleout_bench", *sys.argv[1:]]),
        "config": vars(args) | {"out": str(args.out)},
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "result": result,
        "summary": result["summary"],
    }
    write_report(args.out, "scaleout", report, stamp)
    shutil.rmtree(folder, ignore_errors=True)  # the stores and logs of a run that finished
    print(json.dumps(report["summary"], indent=2))


if __name__ == "__main__":
    main()
