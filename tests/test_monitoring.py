"""Monitoring: /metrics across processes, /readyz, the alerting rules, and a real Prometheus.

The end-to-end test runs Debian's ``prometheus`` against ``matthan run`` on the camera farm,
with matthan's own alerting rules loaded, and asks Prometheus (not /metrics directly) what
it sees: the target up, frames analysed, cameras online, then one camera going dark.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from playwright.sync_api import sync_playwright
from prometheus_client import Gauge, multiprocess

import dashboard.metrics
import detect.metrics
import ingest.metrics
from benchmarks.service_probe import metrics_token, token_header
from common.config import DashboardConfig, ReanalysisConfig, SiteConfig, TlsConfig
from common.heartbeat import Heartbeat
from common.store import Store
from dashboard.app import create_app
from dashboard.certificate import make_self_signed
from dashboard.metrics import LIVE_GAUGE_MODES, exposition
from dashboard.routes.health import STALE_AFTER_S, expected_roles, readiness
from matthan.farm import CameraFarm, Mount
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Service, free_port, wait_http
from tests.https_dashboard import HttpsDashboard
from tests.paths import REPO, clips_dir

RULES_DIR = REPO / "configs" / "prometheus"
RULES = RULES_DIR / "matthan-rules.yml"
GRAFANA = REPO / "configs" / "grafana" / "matthan.json"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
CLIPS = {"pets": "pets09_s2l1_vtest.mp4", "cars": "intel_parking_lot_cars.mp4"}


def _site(cameras: int = 1, workers: int | None = 1, disabled: int = 0) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"name": "test"},
            "ingest": {"workers": workers},
            "cameras": [
                {
                    "id": f"cam-{index}",
                    "name": f"Cam {index}",
                    "detect_url": f"rtsp://127.0.0.1:8554/cam{index}",
                    "enabled": index >= disabled,
                }
                for index in range(cameras)
            ],
        }
    )


# --- rules -----------------------------------------------------------------------------


def _alert_names() -> list[str]:
    groups = yaml.safe_load(RULES.read_text("utf-8"))["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


def _promtool(*args: str, cwd: Path = RULES_DIR) -> None:
    result = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_rules() -> None:
    _promtool("check", "rules", "matthan-rules.yml")


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    _promtool("test", "rules", "matthan-rules.test.yml")


def shipped_config(folder: Path) -> Path:
    """``folder`` holding the shipped prometheus.yml and rules, with the files it names as an
    installer makes them: the scrape token, and a self-signed certificate as the CA file (its
    key beside it, for the dashboard under test)."""
    folder.mkdir()
    for name in ("prometheus.yml", "matthan-rules.yml"):
        shutil.copy(RULES_DIR / name, folder / name)
    (folder / "matthan-metrics.token").write_text(metrics_token(), "utf-8")
    make_self_signed(folder / "matthan-ca.crt", folder / "matthan-ca.key", ["127.0.0.1"])
    return folder


def test_promtool_accepts_the_example_config(tmp_path: Path) -> None:
    _promtool("check", "config", "prometheus.yml", cwd=shipped_config(tmp_path / "etc"))


def grafana_exprs() -> list[str]:
    """Every PromQL query of the Grafana dashboard."""
    board = json.loads(GRAFANA.read_text("utf-8"))
    return [
        target["expr"]
        for panel in board["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def test_grafana_and_rules_use_only_documented_metrics() -> None:
    board = json.loads(GRAFANA.read_text("utf-8"))
    assert any(var["name"] == "camera" for var in board["templating"]["list"])
    assert {panel["title"] for panel in board["panels"] if panel["type"] == "row"} == {
        "Overview",
        "Per camera ($camera)",
        "Detector",
        "Plates, search and phones",
    }
    documented = (REPO / "docs" / "METRICS.md").read_text("utf-8")
    exprs = grafana_exprs()
    assert any('camera=~"$camera"' in expr for expr in exprs)
    groups = yaml.safe_load(RULES.read_text("utf-8"))["groups"]
    exprs += [rule["expr"] for group in groups for rule in group["rules"]]
    for expr in exprs:
        names = set(_metric_words(expr))
        for name in names:
            base = name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
            assert f"`{base}`" in documented, f"{name} (in {expr!r}) is not in docs/METRICS.md"


def _metric_words(expr: str) -> Iterator[str]:
    word = ""
    for char in expr + " ":
        if char.isalnum() or char == "_":
            word += char
            continue
        if word.startswith("matthan_"):
            yield word
        word = ""


# --- /metrics across processes ---------------------------------------------------------

CHILD = """
import os
from dashboard.metrics import WEBSOCKET_CLIENTS
from detect.metrics import FRAMES_ANALYSED
from ingest.metrics import CAMERA_ONLINE
WEBSOCKET_CLIENTS.inc(2)
CAMERA_ONLINE.labels("cong-lang").set(1)
FRAMES_ANALYSED.labels("cong-lang").inc(5)
print(os.getpid())
"""


def _run_child(folder: Path) -> int:
    """One incarnation of a role, in its own process, writing to the multiprocess folder."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return int(result.stdout)


def _samples(text: str) -> dict[str, float]:
    lines = (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return {name: float(value) for name, value in lines}


def test_counters_add_up_and_live_gauges_forget_dead_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    first = _run_child(tmp_path)
    seen = _samples(exposition()[0].decode())
    assert seen['matthan_detector_frames_total{camera="cong-lang"}'] == 5
    assert seen["matthan_dashboard_websocket_clients"] == 2

    # The supervisor saw it die: its live gauges go, its counts stay.
    multiprocess.mark_process_dead(first)  # type: ignore[no-untyped-call]
    seen = _samples(exposition()[0].decode())
    assert seen['matthan_detector_frames_total{camera="cong-lang"}'] == 5
    assert 'matthan_camera_online{camera="cong-lang"}' not in seen

    # Its replacement counts on from there and does not add its gauges to the dead one's.
    _run_child(tmp_path)
    seen = _samples(exposition()[0].decode())
    assert seen['matthan_detector_frames_total{camera="cong-lang"}'] == 10
    assert seen["matthan_dashboard_websocket_clients"] == 2
    assert seen['matthan_camera_online{camera="cong-lang"}'] == 1


def test_every_gauge_uses_a_live_multiprocess_mode() -> None:
    modules = (ingest.metrics, detect.metrics, dashboard.metrics)
    gauges = [value for module in modules for value in vars(module).values()]
    gauges = [gauge for gauge in gauges if isinstance(gauge, Gauge)]
    assert gauges
    for gauge in gauges:
        mode = gauge._multiprocess_mode
        assert mode in LIVE_GAUGE_MODES, f"{gauge._name} uses multiprocess_mode={mode!r}"


# --- /readyz ---------------------------------------------------------------------------


def test_expected_roles_follow_the_supervisor_sharding() -> None:
    assert expected_roles(_site(cameras=1)) == ["ingest-0", "detect", "reanalysis"]
    assert expected_roles(_site(cameras=3, workers=2)) == [
        "ingest-0",
        "ingest-1",
        "detect",
        "reanalysis",
    ]
    assert expected_roles(_site(cameras=3, workers=8)) == [
        "ingest-0",
        "ingest-1",
        "ingest-2",
        "detect",
        "reanalysis",
    ]
    assert expected_roles(_site(cameras=3, workers=8, disabled=2)) == [
        "ingest-0",
        "detect",
        "reanalysis",
    ]
    without_jobs = _site(cameras=1).model_copy(
        update={"reanalysis": ReanalysisConfig(enabled=False)}
    )
    assert expected_roles(without_jobs) == ["ingest-0", "detect"]
    assert expected_roles(_site(cameras=3, workers=1), workers=2)[:2] == ["ingest-0", "ingest-1"]


def _get(url: str) -> tuple[int, str]:
    """Status and body of GET ``url`` with the scrape token (an error status is an answer,
    not an exception)."""
    try:
        request = urllib.request.Request(url, headers=token_header())
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


class Dashboard:
    """The real dashboard app, served by uvicorn in a thread on a free port."""

    def __init__(self, site: SiteConfig, database: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = int(self.url.rsplit(":", 1)[1])
        config = uvicorn.Config(
            create_app(site, database), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dashboard")
        self.thread.start()
        wait_http(f"{self.url}/healthz", 20)

    def get(self, path: str) -> tuple[int, str]:
        return _get(self.url + path)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def dashboard_and_store(tmp_path: Path) -> Iterator[tuple[Dashboard, Store]]:
    """A dashboard for two ingest shards and the detector, and a store to fill."""
    database = tmp_path / "matthan.db"
    store = Store(database)
    dashboard = Dashboard(_site(cameras=2, workers=2), database)
    yield dashboard, store
    dashboard.stop()
    store.close()


def _beat(store: Store, role: str, age_s: float = 0.0) -> None:
    Heartbeat(store, role).maybe_beat()
    if age_s:
        with store.transaction() as db:
            db.execute("UPDATE heartbeats SET at = at - ? WHERE role = ?", (age_s, role))


def test_readyz_is_200_when_every_role_is_fresh(
    dashboard_and_store: tuple[Dashboard, Store],
) -> None:
    web, store = dashboard_and_store
    for role in ("ingest-0", "ingest-1", "detect", "reanalysis"):
        _beat(store, role)
    _beat(store, "ingest-7", age_s=3600)  # a shard of an earlier run with more workers
    status, text = web.get("/readyz")
    assert status == 200, text
    body = json.loads(text)
    assert body["ready"] is True
    assert body["store"] == "ok"
    assert body["reasons"] == []
    assert [(role["role"], role["state"]) for role in body["roles"]] == [
        ("ingest-0", "fresh"),
        ("ingest-1", "fresh"),
        ("detect", "fresh"),
        ("reanalysis", "fresh"),
    ]
    assert web.get("/healthz")[0] == 200


def test_readyz_is_503_and_names_the_stale_role(
    dashboard_and_store: tuple[Dashboard, Store],
) -> None:
    web, store = dashboard_and_store
    _beat(store, "ingest-0")
    _beat(store, "ingest-1", age_s=STALE_AFTER_S + 20)
    _beat(store, "detect")
    _beat(store, "reanalysis")
    status, text = web.get("/readyz")
    assert status == 503, text
    body = json.loads(text)
    assert body["ready"] is False
    states = {role["role"]: role["state"] for role in body["roles"]}
    assert states == {
        "ingest-0": "fresh",
        "ingest-1": "stale",
        "detect": "fresh",
        "reanalysis": "fresh",
    }
    assert len(body["reasons"]) == 1
    assert body["reasons"][0].startswith("ingest-1: last heartbeat")


def test_readyz_is_503_for_a_role_that_never_beat(
    dashboard_and_store: tuple[Dashboard, Store],
) -> None:
    web, store = dashboard_and_store
    _beat(store, "ingest-0")
    _beat(store, "ingest-1")
    _beat(store, "reanalysis")
    status, text = web.get("/readyz")
    assert status == 503, text
    assert json.loads(text)["reasons"] == ["detect: no heartbeat yet"]
    status, metrics = web.get("/metrics")
    assert status == 200, metrics
    assert 'matthan_role_heartbeat_age_seconds{role="detect"} +Inf' in metrics
    assert "matthan_recordings_disk_free_bytes " in metrics
    assert "matthan_build_info{" in metrics


def test_readiness_reports_a_store_that_does_not_answer(tmp_path: Path) -> None:
    store = Store(tmp_path / "matthan.db")
    store.close()
    answer = readiness(store, ["ingest-0", "detect"])
    assert answer.ready is False
    assert answer.store != "ok"
    assert answer.reasons[0].startswith("store: ")
    assert {role.state for role in answer.roles} == {"unknown"}


# --- a real Prometheus against the running service --------------------------------------

SITE = """\
site: {{name: "Giám sát (test)"}}
storage: {{database: data/test.db}}
dashboard: {{port: {port}}}
detector: {{max_batch: 4, max_wait_ms: 20}}
ingest: {{workers: 1, analysis_fps: 4, read_timeout_s: 2}}
cameras:
  - {{id: pets, name: "Ngã tư chợ Gốm", detect_url: "{pets}"}}
  - {{id: cars, name: "Bãi xe", detect_url: "{cars}"}}
"""

PROMETHEUS_CONFIG = """\
global: {{scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s}}
rule_files: ["{rules}"]
scrape_configs:
  - job_name: matthan
    authorization: {{credentials_file: "{token}"}}
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
"""


def plain_config(folder: Path, target_port: int) -> Path:
    """The scrape config of the service test (plain HTTP on loopback), with its token file."""
    config, token = folder / "prometheus.yml", folder / "matthan-metrics.token"
    token.write_text(metrics_token(), "utf-8")
    config.write_text(PROMETHEUS_CONFIG.format(rules=RULES, port=target_port, token=token), "utf-8")
    return config


class Prometheus:
    """Debian's prometheus server on a free port with a throwaway storage folder."""

    def __init__(self, folder: Path, config: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = folder / "prometheus.log"
        command = [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address={self.url.removeprefix('http://')}",
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=5) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> dict[str, float]:
        """The instant vector of ``expr``, keyed by its ``camera`` label (or its name)."""
        return {
            item["metric"].get("camera", item["metric"].get("__name__", "")): float(
                item["value"][1]
            )
            for item in self.api("query", query=expr)["result"]
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def prometheus_for(tmp_path: Path) -> Iterator[Callable[..., Prometheus]]:
    """Start Prometheus scraping 127.0.0.1:``port`` (or with the ``config`` file given)."""
    started: list[Prometheus] = []

    def start(port: int, config: Path | None = None) -> Prometheus:
        folder = tmp_path / "prometheus"
        folder.mkdir(exist_ok=True)
        server = Prometheus(folder, config or plain_config(folder, port))
        started.append(server)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert server.process.poll() is None, server.log.read_text("utf-8")[-3000:]
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2):
                    return server
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready: {server.log.read_text('utf-8')[-3000:]}")

    yield start
    for server in started:
        server.stop()


def wait_until(
    what: str, probe: Callable[[], dict[str, float]], ok: Callable[[dict[str, float]], bool]
) -> dict[str, float]:
    """Poll ``probe`` until ``ok`` holds; fail naming ``what`` and the last answer."""
    deadline = time.monotonic() + 45
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        seen = probe()
        if ok(seen):
            return seen
        time.sleep(0.5)
    raise AssertionError(f"{what}: still {seen}")


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.timeout(150)
def test_prometheus_scrapes_the_running_service(
    start_service: Callable[[str, int], Service],
    prometheus_for: Callable[..., Prometheus],
) -> None:
    mounts = [Mount(name, clips_dir() / clip) for name, clip in CLIPS.items()]
    with CameraFarm(mounts) as farm:
        port = free_port()
        urls = {name: farm.url(name) for name in CLIPS}
        service = start_service(SITE.format(port=port, **urls), port)
        prometheus = prometheus_for(port)

        wait_until(
            "target up", lambda: prometheus.query('up{job="matthan"}'), lambda v: v == {"up": 1.0}
        )
        wait_until(
            "both cameras online",
            lambda: prometheus.query("matthan_camera_online"),
            lambda v: v == {"pets": 1.0, "cars": 1.0},
        )
        analysed = wait_until(  # pets always has people walking; the motion gate passes it
            "frames analysed on the farm's cameras",
            lambda: prometheus.query("sum by (camera) (rate(matthan_detector_frames_total[5s]))"),
            lambda v: v.get("pets", 0.0) > 0,
        )
        assert analysed["pets"] < 10, analysed  # a rate per second, at most the analysis fps
        free = prometheus.query("matthan_recordings_disk_free_bytes")
        assert free["matthan_recordings_disk_free_bytes"] > 0
        assert prometheus.query("count(matthan_build_info)") == {"": 1.0}

        # Every alerting rule evaluates without error on the live series.
        groups = prometheus.api("rules")["groups"]
        health = {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}
        assert health == dict.fromkeys(_alert_names(), "ok"), health

        # Every query of the Grafana dashboard parses and runs on the live data.
        for expr in grafana_exprs():
            prometheus.api("query", query=expr.replace("$camera", ".*"))

        # A camera dies: Prometheus sees it offline while the other stays online.
        farm.stop_mount("cars")
        online = wait_until(
            "cars offline",
            lambda: prometheus.query("matthan_camera_online"),
            lambda v: v == {"pets": 1.0, "cars": 0.0},
        )
        assert online == {"pets": 1.0, "cars": 0.0}
        ARTIFACTS.mkdir(exist_ok=True)
        _screenshot(prometheus, ARTIFACTS / "prometheus-camera-online.png")
        status, text = _get(f"{service.base_url}/metrics")
        assert status == 200, text
        (ARTIFACTS / "monitoring-metrics.txt").write_text(text, "utf-8")

        # Readiness waits for the roles this site runs (whether they beat yet or not).
        status, text = _get(f"{service.base_url}/readyz")
        (ARTIFACTS / "monitoring-readyz.json").write_text(text, "utf-8")
        assert status in (200, 503), text
        roles = [role["role"] for role in json.loads(text)["roles"]]
        assert roles == ["ingest-0", "detect", "reanalysis"]
    assert service.stop() == 0, service.log_text()[-3000:]


@pytest.mark.timeout(60)
def test_prometheus_scrapes_https_with_the_shipped_settings(
    tmp_path: Path, prometheus_for: Callable[..., Prometheus]
) -> None:
    """The shipped scrape job as it is (https, token file, CA file) against the dashboard over
    TLS; only the target and the intervals are changed for the test."""
    folder = shipped_config(tmp_path / "etc")
    port = free_port()
    config = yaml.safe_load((folder / "prometheus.yml").read_text("utf-8"))
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    (job,) = config["scrape_configs"]
    job.update(scrape_timeout="1s", static_configs=[{"targets": [f"127.0.0.1:{port}"]}])
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config), "utf-8")
    tls = {"cert": folder / "matthan-ca.crt", "key": folder / "matthan-ca.key"}
    site = _site().model_copy(
        update={"dashboard": DashboardConfig(port=port, tls=TlsConfig(**tls))}
    )
    dashboard = HttpsDashboard(site, tmp_path / "matthan.db")
    try:
        prometheus = prometheus_for(port, folder / "prometheus.yml")
        wait_until(
            "target up over https",
            lambda: prometheus.query('up{job="matthan"}'),
            lambda v: v == {"up": 1.0},
        )
        assert prometheus.query("count(matthan_build_info)") == {"": 1.0}
    finally:
        dashboard.close()


def _screenshot(prometheus: Prometheus, path: Path) -> None:
    """Prometheus' own graph page of matthan_camera_online, one line per camera."""
    query = urllib.parse.urlencode(
        {"g0.expr": "matthan_camera_online", "g0.tab": "0", "g0.range_input": "1m"}
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{prometheus.url}/graph?{query}")
        legend = page.locator(".legend .line")  # Debian ships the classic UI (Rickshaw)
        legend.nth(1).wait_for(timeout=15_000)
        shown = " ".join(legend.all_inner_texts())
        assert all(f'camera="{camera}"' in shown for camera in CLIPS), shown
        page.screenshot(path=str(path))
        browser.close()
