"""A site over several machines, on real parts: ``matthan run`` as the station (its own
nats-server, the dashboard, the intake of the alert stream) and three ``matthan node``
processes reading cameras of the real farm with the real model.

The cameras spread over the nodes; ``kill -9`` of one node moves its camera to another within
the lease time + 10 s; every alert any node committed reaches the station's store exactly
once (the killed node's last ones when it comes back, as an operator restarts it), with its
end; and a node with a wrong site token is refused with a clear message.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.service_probe import token_header
from matthan.cluster.client import NatsClient
from matthan.cluster.leases import node_reports
from matthan.farm import CameraFarm, Mount
from tests.conftest import ARTIFACTS, Service, free_port, wait_http
from tests.paths import clips_dir, models_dir

pytestmark = [pytest.mark.e2e]

TOKEN = "node-test-token-0123456789abcdef"
LEASE_S = 6.0
CAMERAS = ("cong-a", "cong-b", "cong-c")
SITE = """\
site: {{name: "Nhiều máy (test)"}}
storage: {{database: data/station.db}}
dashboard: {{port: {port}}}
detector: {{max_batch: 2, max_wait_ms: 20}}
ingest: {{workers: 1, analysis_fps: 2}}
recording: {{enabled: false}}
reanalysis: {{enabled: false}}
cluster:
  {{enabled: true, site_id: test-site, url: "nats://127.0.0.1:{nats_port}", lease_s: {lease_s}}}
cameras:
{cameras}
"""
CAMERA = """\
  - id: {camera}
    name: "{camera}"
    detect_url: {url}
    zones:
      - name: all
        points: [[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]]
    rules:
      - kind: intrusion
        name: vao-vung
        zone: all
        classes: [person]
        min_presence_s: 0.5
        cooldown_s: 2
"""


@pytest.fixture(scope="module")
def farm() -> Iterator[CameraFarm]:
    clip = clips_dir() / "pets09_s2l1_vtest.mp4"
    with CameraFarm([Mount(camera, clip) for camera in CAMERAS]) as running:
        yield running


class NodeProcess:
    """``matthan node`` with its log in a file."""

    def __init__(self, config: Path, name: str, token: str = TOKEN) -> None:
        self.name = name
        self.log = config.parent / f"node-{name}.log"
        env = {**os.environ, "MATTHAN_SITE_TOKEN": token, "MATTHAN_MODELS": str(models_dir())}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "matthan.cli", "node", "-c", str(config), "--name", name],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**env, "PYTHONUNBUFFERED": "1"},
                cwd=config.parent,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def until(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.25)


class Site:
    """The station and its nodes, with what the test reads of them."""

    def __init__(self, farm: CameraFarm, folder: Path) -> None:
        os.environ["MATTHAN_SITE_TOKEN"] = TOKEN  # the station's server and intake read it
        port, nats_port = free_port(), free_port()
        cameras = "".join(CAMERA.format(camera=c, url=farm.url(c)) for c in CAMERAS)
        self.config = folder / "site.yaml"
        text = SITE.format(port=port, nats_port=nats_port, lease_s=LEASE_S, cameras=cameras)
        self.config.write_text(text, "utf-8")
        self.station_db = folder / "data" / "station.db"
        self.station = Service(self.config, port, folder / "station.log")
        self.nodes: dict[str, NodeProcess] = {}
        self.client: NatsClient | None = None
        wait_http(f"{self.station.base_url}/healthz", 60, self.station.process)
        self.client = NatsClient.connect(f"nats://127.0.0.1:{nats_port}", TOKEN, name="test")

    def start(self, name: str, token: str = TOKEN) -> NodeProcess:
        self.nodes[name] = NodeProcess(self.config, name, token)
        return self.nodes[name]

    def reports(self) -> dict[str, dict[str, object]]:
        assert self.client is not None
        return self.client.run(node_reports(self.client))

    def analysing(self, but: str = "") -> list[str]:
        """The cameras analysed now, on every node but ``but``."""
        found = [r.get("analysing", []) for n, r in self.reports().items() if n != but]
        return sorted(camera for cameras in found for camera in cameras)  # type: ignore[attr-defined]

    def readiness(self) -> dict[str, Any]:
        """The station's /readyz, as an administrator's scraper reads it (the token)."""
        request = urllib.request.Request(f"{self.station.base_url}/readyz", headers=token_header())
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503: not ready, with the reasons
            body = json.loads(error.read())
        return body

    def live_nodes(self) -> list[str]:
        return sorted(n["name"] for n in self.readiness().get("nodes", []) if n["state"] == "live")

    def node_alerts(self, name: str) -> dict[str, bool]:
        return uids(self.config.parent / "data" / "nodes" / name / "station.db", node=True)

    def station_alerts(self, camera: str | None = None) -> dict[str, bool]:
        return uids(self.station_db, camera=camera)

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()
        if self.client is not None:
            self.client.close()
        self.station.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        logs = [self.station.log, *(node.log for node in self.nodes.values())]
        (ARTIFACTS / "nodes-last.log").write_text(
            "\n".join(f"== {log.name}\n{log.read_text('utf-8', 'replace')}" for log in logs),
            "utf-8",
        )


def uids(database: Path, node: bool = False, camera: str | None = None) -> dict[str, bool]:
    """Each stored alert's uid and whether it has ended. A node's store names its alerts by
    row; on the stream they are ``<origin>-<row>`` (:mod:`common.alert_outbox`)."""
    if not database.exists():
        return {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        origin = db.execute("SELECT origin FROM alert_outbox").fetchone()[0] if node else ""
        rows = db.execute(
            "SELECT id, uid, ended_at FROM alerts WHERE ? IS NULL OR camera_id = ?",
            (camera, camera),
        ).fetchall()
    return {
        (f"{origin}-{row_id}" if node else str(uid)): ended is not None
        for row_id, uid, ended in rows
    }


@pytest.mark.timeout(400)
def test_nodes_share_the_cameras_fail_over_and_lose_no_alert(
    farm: CameraFarm, tmp_path: Path
) -> None:
    site = Site(farm, tmp_path)
    try:
        # A node with another site's token is refused at once, saying why.
        stranger = NodeProcess(site.config, "stranger", token="another-site-token-0123456789")
        assert stranger.process.wait(30) == 1
        assert "refused the token" in stranger.log.read_text("utf-8")

        for name in ("n1", "n2", "n3"):
            site.start(name)
        until(lambda: site.analysing() == list(CAMERAS), 120, "every camera analysed")
        until(lambda: site.readiness()["ready"], 15, "the station ready")
        assert site.live_nodes() == ["n1", "n2", "n3"]
        thumbnails = tmp_path / "data" / "thumbnails"  # the station's camera wall
        until(
            lambda: all((thumbnails / f"{camera}.jpg").exists() for camera in CAMERAS),
            20,
            "each camera's thumbnail at the station",
        )
        assert (thumbnails / f"{CAMERAS[0]}.jpg").read_bytes().startswith(b"\xff\xd8")
        held = {name: report.get("cameras") for name, report in site.reports().items()}
        assert sorted(held.values()) == [[camera] for camera in CAMERAS], held  # one each
        until(lambda: site.node_alerts("n1"), 90, "an alert on n1's camera")
        until(lambda: site.node_alerts("n1").keys() <= site.station_alerts().keys(), 10, "sent")
        # The station knows each node's origin: the uids of n1's alerts begin with it (what
        # it ends them by, should n1 stay silent; tests/test_lost_node_alerts.py).
        with sqlite3.connect(site.station_db) as db:
            origins = dict(db.execute("SELECT name, origin FROM cluster_nodes").fetchall())
        assert all(uid.startswith(f"{origins['n1']}-") for uid in site.node_alerts("n1"))

        # kill -9 n1: its camera is analysed on another node within the lease time + 10 s,
        # and raises alerts there.
        moved = held["n1"][0]  # type: ignore[index]
        site.nodes["n1"].process.kill()
        killed_at = time.monotonic()
        site.nodes["n1"].process.wait()
        until(lambda: moved in site.analysing(but="n1"), LEASE_S + 10, f"{moved} taken over")
        failover_s = time.monotonic() - killed_at
        until(lambda: site.live_nodes() == ["n2", "n3"], 10, "/readyz: n1 gone")
        until(
            lambda: site.station_alerts(moved).keys() - site.node_alerts("n1").keys(),
            60,
            f"an alert of {moved} from its new node",
        )

        # n1 comes back: what it committed but had not sent reaches the station now. Then
        # every node stops cleanly and sends the ends of the alerts it ends on the way out.
        site.start("n1")
        time.sleep(LEASE_S)
        for node in site.nodes.values():
            node.stop()
        at_nodes = {name: site.node_alerts(name) for name in site.nodes}
        assert all(at_nodes.values()), {name: len(alerts) for name, alerts in at_nodes.items()}
        everything = {uid: ended for alerts in at_nodes.values() for uid, ended in alerts.items()}
        assert len(everything) == sum(len(alerts) for alerts in at_nodes.values())
        until(lambda: site.station_alerts() == everything, 20, "every alert, ended as at its node")
        with sqlite3.connect(site.station_db) as db:  # none lost, none doubled, none made up
            assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == len(everything)
        print(f"failover {failover_s:.1f} s, {len(everything)} alerts")
    finally:
        site.close()


def test_a_node_says_what_is_wrong_with_how_it_was_started(tmp_path: Path) -> None:
    """A bad name, or a site file without ``cluster.enabled``: exit 2 with the reason, before
    anything is started."""
    config = tmp_path / "site.yaml"
    config.write_text(
        'site: {name: "Một máy"}\ncameras:\n  - {id: cong, name: Cổng, detect_url: "rtsp://127.0.0.1:9/x"}\n',
        "utf-8",
    )
    command = [sys.executable, "-m", "matthan.cli", "node", "-c", str(config), "--name"]
    bad_name = subprocess.run([*command, "a b"], capture_output=True, text=True, check=False)
    assert bad_name.returncode == 2
    assert "a node's name is 1-64 letters" in bad_name.stderr
    single = subprocess.run([*command, "n1"], capture_output=True, text=True, check=False)
    assert single.returncode == 2
    assert "cluster.enabled is false" in single.stderr
