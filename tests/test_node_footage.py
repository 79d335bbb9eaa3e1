"""A node's recordings stay on the node; the station's index knows where, and fetches them.

The end-to-end test runs the real parts: ``matthan run`` as the station (its nats-server, the
intake, the dashboard) and one ``matthan node`` recording a camera of the clip farm in
2-second segments, the site's links over TLS (``cluster.tls``: the station's NATS server and
the node's footage server serve a self-signed certificate that every client verifies). The
station's timeline shows the node's segments, its
``/api/recordings/{id}/video.mp4`` answers the node's very bytes (fetched once, then cached),
the node's footage server wants the site token, the station's live view in Chromium plays the
node's passthrough of the camera with the node's boxes over it, and a segment asked for while
the node is down is a 502 that names it. The small tests check the pieces without processes:
the footage server's answers, the index's idempotence and retention's hands off, and
migration 6 on a file of schema 5.
"""

from __future__ import annotations

import http.client
import sqlite3
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright
from prometheus_client import REGISTRY

from benchmarks.service_probe import scrape
from common import cluster_nodes, node_footage, recordings
from common.cluster_nodes import NodeReport
from common.config import RecordingConfig, SiteConfig
from common.config_loader import parse_site
from common.migrations import SCHEMA_VERSION
from common.store import Store
from common.tls_files import site_tls
from dashboard.certificate import make_self_signed
from ingest.retention import RetentionSweeper
from matthan.cluster.alert_events import SegmentRemoved, encode, subject
from matthan.cluster.alert_stream import DURABLE, STREAM, AlertPublisher, AlertStreamConsumer
from matthan.cluster.client import NatsClient, NatsClientError
from matthan.cluster.footage_server import FootageServer
from matthan.cluster.outbox import AlertOutbox
from matthan.cluster.server import NatsServer, NatsServerError, station_server
from matthan.farm import CameraFarm, Mount
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Service, free_port, wait_http
from tests.page_waits import wait_for_promise
from tests.paths import clips_dir
from tests.test_nodes import TOKEN, NodeProcess, until

CAMERA = "kho"
NODE = "n1"
PASSWORD = "mật-khẩu-đủ-dài-0123"
SITE = """\
site: {{name: "Kho (thử)"}}
storage: {{database: data/station.db}}
dashboard: {{port: {port}}}
detector: {{max_batch: 2, max_wait_ms: 20}}
ingest: {{workers: 1, analysis_fps: 2}}
recording: {{enabled: true, segment_s: 2}}
reanalysis: {{enabled: false}}
cluster:
  {{enabled: true, site_id: test-footage, url: "nats://127.0.0.1:{nats_port}", lease_s: 6,
   tls: {{cert: {cert}, key: {key}, ca: {cert}}}}}
cameras:
  - {{id: {camera}, name: "Kho", detect_url: {url}, record_url: {url}}}
"""


def _get(url: str, token: str | None, ca: Path | None = None) -> tuple[int, bytes]:
    """Status and body of a GET to the node's footage server, with ``token`` if given (over
    HTTPS verified by ``ca``)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(url, headers=headers)
    context = None if ca is None else ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _node_segments(station: Store) -> list[recordings.Segment]:
    return [s for s in recordings.segments(station, CAMERA) if s.node == NODE]


@pytest.fixture
def farm() -> Iterator[CameraFarm]:
    with CameraFarm([Mount(CAMERA, clips_dir() / "pets09_s2l1_vtest.mp4")]) as running:
        yield running


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_the_station_plays_a_nodes_recording_and_live_view(
    farm: CameraFarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATTHAN_SITE_TOKEN", TOKEN)  # the station's server and intake read it
    port = free_port()
    config = tmp_path / "site.yaml"
    url = farm.url(CAMERA)
    cert, key = tmp_path / "site-tls" / "cert.pem", tmp_path / "site-tls" / "key.pem"
    make_self_signed(cert, key, ["127.0.0.1"])  # the site's own: station and node
    text = SITE.format(port=port, nats_port=free_port(), camera=CAMERA, url=url, cert=cert, key=key)
    config.write_text(text, "utf-8")
    station = Service(config, port, tmp_path / "station.log")
    node: NodeProcess | None = None
    try:
        wait_http(f"{station.base_url}/healthz", 60, station.process)
        station.add_user("admin", PASSWORD)
        node = NodeProcess(config, NODE)
        index = Store(tmp_path / "data" / "station.db")  # what the station's intake wrote
        until(lambda: len(_node_segments(index)) >= 2, 90, "two of the node's segments indexed")
        with httpx.Client(base_url=station.base_url, timeout=30) as client:
            login = client.post("/api/login", json={"username": "admin", "password": PASSWORD})
            assert login.status_code == 200, login.text
            now = time.time()
            timeline = client.get(
                f"/api/cameras/{CAMERA}/timeline", params={"start": now - 600, "end": now + 60}
            ).json()
            shown = [s for s in timeline["segments"] if s["node"] == NODE]
            assert shown, timeline
            first, second = _node_segments(index)[:2]
            assert first.path == f"node:{NODE}/{first.remote_id}"

            # Through the station: the node's very file, fetched once into its cache.
            video = client.get(f"/api/recordings/{first.id}/video.mp4")
            assert video.status_code == 200, video.text
            node_store = Store(tmp_path / "data" / "nodes" / NODE / "station.db")
            original = recordings.segment(node_store, first.remote_id or 0)
            node_store.close()
            assert original is not None
            assert video.content == Path(original.path).read_bytes()
            cached = tmp_path / "data" / "node-footage" / f"{NODE}-{first.remote_id}.mp4"
            assert cached.read_bytes() == video.content
            samples = scrape(station.base_url)
            labels = (("node", NODE), ("outcome", "ok"))
            assert samples[("matthan_node_footage_fetches_total", labels)] == 1

            _check_the_nodes_own_server(index, first, video.content, cert)
            csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
            _a_hold_reaches_the_node(client, csrf, node_store.path, first)
        _live_from_the_node(station.base_url)
        _with_the_node_down(station.base_url, node, second.id, (first.id, video.content))
        index.close()
    finally:
        if node is not None:
            node.stop()
        station.stop()


def _a_hold_reaches_the_node(
    client: httpx.Client, csrf: dict[str, str], node_database: Path, segment: recordings.Segment
) -> None:
    """A legal hold an admin places at the station is copied into the node's store (what
    the node's retention reads), and leaves it when lifted."""
    body = {"camera_id": CAMERA, "start": segment.start, "end": segment.end, "reason": "vụ án"}
    placed = client.post("/api/holds", json=body, headers=csrf)
    assert placed.status_code == 201, placed.text
    node = Store(node_database)
    try:

        def copied() -> list[tuple[str, float, float]]:
            return [(h.camera_id, h.start, h.end) for h in recordings.legal_holds(node)]

        until(lambda: copied() == [(CAMERA, segment.start, segment.end)], 20, "the hold copied")
        lift = f"/api/holds/{placed.json()['id']}/lift"
        lifted = client.post(lift, json={"reason": "xong"}, headers=csrf)
        assert lifted.status_code == 200, lifted.text
        until(lambda: copied() == [], 20, "the lifted hold gone from the node")
    finally:
        node.close()


def _with_the_node_down(
    base_url: str, node: NodeProcess, segment_id: int, cached: tuple[int, bytes]
) -> None:
    """A segment not fetched before is a 502 naming the node; the cached one still plays."""
    node.stop()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        login = client.post("/api/login", json={"username": "admin", "password": PASSWORD})
        assert login.status_code == 200, login.text
        down = client.get(f"/api/recordings/{segment_id}/video.mp4")
        assert down.status_code == 502, down.text
        assert f"node {NODE} unreachable" in down.json()["detail"]
        assert client.get(f"/api/recordings/{cached[0]}/video.mp4").content == cached[1]


def _live_from_the_node(base_url: str) -> None:
    """The station's live view of the node's camera in Chromium: the video is the node's
    passthrough of the camera (the station never opens the camera: it has no URL for it in
    this mode), and the node's tracked boxes are drawn over it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base_url}/login")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(f"{base_url}/")
            page.goto(f"{base_url}/cameras/{CAMERA}")
            page.wait_for_selector("html[data-ready]")
            page.click("#live-toggle")
            wait_for_promise(
                page, "() => window.matthan.live.framesDecoded().then(n => n > 20)", 60
            )
            assert page.evaluate("document.getElementById('live-video').videoWidth") == 768
            wait_for_promise(
                page,
                "() => { const drawn = window.matthan.overlay;"
                " return drawn.frame && drawn.frame.boxes.length > 0 && drawn.boxesDrawn > 0 }",
                60,
            )
            page.screenshot(path=str(ARTIFACTS / "node-live-view.png"))
            page.click("#live-toggle")
        finally:
            browser.close()


def _check_the_nodes_own_server(
    index: Store, segment: recordings.Segment, content: bytes, ca: Path
) -> None:
    """The node serves ``segment`` where it reported, over HTTPS (the site's TLS), with the
    site token or not at all; nothing in plain HTTP."""
    footage_url = cluster_nodes.footage_url(index, NODE)
    assert footage_url is not None
    assert footage_url.startswith("https://127.0.0.1:")
    segment_url = f"{footage_url}/footage/segments/{segment.remote_id}.mp4"
    assert _get(segment_url, None, ca)[0] == 401
    assert _get(segment_url, "another-site-token-0123456789", ca)[0] == 401
    assert _get(segment_url, TOKEN, ca) == (200, content)
    assert _get(f"{footage_url}/footage/segments/999999.mp4", TOKEN, ca)[0] == 404
    with pytest.raises(urllib.error.URLError):  # a client that cannot verify the node
        _get(segment_url, TOKEN)
    plain = segment_url.replace("https://", "http://")
    with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
        _get(plain, TOKEN)


@pytest.fixture
def node_store(tmp_path: Path) -> Iterator[tuple[Store, int, bytes]]:
    """A node's store with one segment file: (store, its id, its bytes)."""
    store = Store(tmp_path / "node" / "node.db")
    clip = tmp_path / "node" / "segment.mp4"
    clip.write_bytes(b"not really an mp4, but bytes all the same" * 100)
    segment_id = recordings.add_segment(
        store, CAMERA, start=100.0, end=102.0, path=str(clip), size=clip.stat().st_size
    )
    yield store, segment_id, clip.read_bytes()
    store.close()


def test_the_footage_server_wants_the_token_and_an_id_of_its_store(
    node_store: tuple[Store, int, bytes],
) -> None:
    store, segment_id, content = node_store
    server = FootageServer(store, TOKEN, advertise_host="127.0.0.1")
    try:
        base = f"{server.url}/footage/segments"
        assert _get(f"{base}/{segment_id}.mp4", None)[0] == 401
        assert _get(f"{base}/{segment_id}.mp4", TOKEN[:-1] + "x")[0] == 401
        assert _get(f"{base}/{segment_id}.mp4", TOKEN) == (200, content)
        assert _get(f"{base}/{segment_id + 1}.mp4", TOKEN)[0] == 404
        assert _get(f"{server.url}/footage/segments/..%2Fnode.db", TOKEN)[0] == 404
        assert _get(f"{server.url}/node.db", TOKEN)[0] == 404
    finally:
        server.close()


def test_the_station_fetches_once_and_says_which_node_is_down(
    node_store: tuple[Store, int, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATTHAN_SITE_TOKEN", TOKEN)
    store, segment_id, content = node_store
    station = Store(tmp_path / "station" / "station.db")
    server = FootageServer(store, TOKEN, advertise_host="127.0.0.1")
    try:
        cluster_nodes.record(station, [NodeReport(NODE, (CAMERA,), (), time.time(), server.url)])
        assert recordings.add_node_segment(
            station, CAMERA, node=NODE, remote_id=segment_id, start=100.0, end=102.0, size=9
        )
        found = _node_segments(station)[0]
        copy = node_footage.local_path(station, found)
        assert copy.read_bytes() == content
        assert copy.parent == tmp_path / "station" / "node-footage"
        gone = segment_id + 1  # indexed, but the node has no such segment (any more)
        assert recordings.add_node_segment(
            station, CAMERA, node=NODE, remote_id=gone, start=102.0, end=104.0, size=9
        )
        (missing,) = [s for s in _node_segments(station) if s.remote_id == gone]
        with pytest.raises(node_footage.NodeFootageMissingError):
            node_footage.local_path(station, missing)
        assert [s.remote_id for s in _node_segments(station)] == [segment_id]  # index forgot it
        server.close()  # the node goes: what was fetched is still there
        assert node_footage.local_path(station, found) == copy
        copy.unlink()
        with pytest.raises(node_footage.NodeUnreachableError, match=f"node {NODE} unreachable"):
            node_footage.local_path(station, found)
    finally:
        server.close()
        station.close()


def test_the_index_of_a_nodes_segment_is_idempotent_and_retention_leaves_it(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "station.db")
    try:
        kwargs = {"node": NODE, "remote_id": 7, "start": 10.0, "end": 12.0, "size": 500}
        assert recordings.add_node_segment(store, CAMERA, **kwargs)  # type: ignore[arg-type]
        assert not recordings.add_node_segment(store, CAMERA, **kwargs)  # type: ignore[arg-type]
        assert len(recordings.segments(store)) == 1
        # The node's store made anew: its id 7 is another segment now, which replaces the row.
        anew = kwargs | {"start": 500.0, "end": 502.0, "size": 900}
        assert recordings.add_node_segment(store, CAMERA, **anew)  # type: ignore[arg-type]
        (row,) = recordings.segments(store)
        assert (row.start, row.end, row.bytes, row.remote_id) == (500.0, 502.0, 900, 7)
        assert recordings.retention_candidates(store, older_than=None) == []
        assert recordings.recorded_bytes(store) == 0
    finally:
        store.close()


def test_migration_6_brings_a_schema_5_file_to_the_nodes_footage(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    with sqlite3.connect(database) as db:
        db.executescript(
            "CREATE TABLE segments (id INTEGER PRIMARY KEY, camera_id TEXT NOT NULL,"
            " start REAL NOT NULL, end REAL NOT NULL, path TEXT NOT NULL UNIQUE,"
            " bytes INTEGER NOT NULL);"
            "CREATE TABLE cluster_nodes (name TEXT PRIMARY KEY, cameras TEXT NOT NULL,"
            " analysing TEXT NOT NULL, seen_at REAL NOT NULL);"
            "CREATE TABLE alert_outbox (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " origin TEXT NOT NULL, opened_through INTEGER NOT NULL DEFAULT 0,"
            " ended_at REAL NOT NULL DEFAULT 0, ended_id INTEGER NOT NULL DEFAULT 0,"
            " events_through INTEGER NOT NULL DEFAULT 0);"
            "INSERT INTO alert_outbox (id, origin) VALUES (1, 'o');"
            "PRAGMA user_version = 5;"
        )
    Store(database).close()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 6

        def columns(table: str) -> set[str]:
            return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}

        assert {"node", "remote_id"} <= columns("segments")
        assert "footage_url" in columns("cluster_nodes")
        assert "segments_through" in columns("alert_outbox")


def test_a_segment_the_nodes_retention_deletes_leaves_the_stations_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node announces three segments; its retention (the real sweeper, by age) then
    deletes them and a fourth it never announced. Over a real nats-server the station's
    index forgets exactly the three, and the copy it had fetched; a removal that comes again
    changes nothing."""
    monkeypatch.setenv("MATTHAN_SITE_TOKEN", TOKEN)
    before = _removals_stored()
    node = Store(tmp_path / "node" / "node.db")
    station = Store(tmp_path / "station" / "station.db")
    folder = tmp_path / "node" / "rec"
    folder.mkdir(parents=True)

    def record(index: int) -> int:
        path = folder / f"{index}.mp4"
        path.write_bytes(b"segment %d " % index * 100)
        start = 1_000_000.0 + 2 * index
        return recordings.add_segment(
            node, CAMERA, start=start, end=start + 2, path=str(path), size=path.stat().st_size
        )

    with NatsServer(tmp_path / "nats", token=TOKEN, port=free_port()) as server:
        client = NatsClient.connect(server.url, TOKEN, name="footage-index")
        try:
            outbox = AlertOutbox(node, AlertPublisher(client, "test-footage"), node=NODE)
            consumer = AlertStreamConsumer(client, station, ack_wait_s=1.0)

            def deliver() -> None:
                consumer.step(wait_s=0.2)
                while not drained():
                    consumer.step(wait_s=0.2)

            def drained() -> bool:
                info = client.run(client.js.consumer_info(STREAM, DURABLE))
                return bool(info.num_pending == 0 and info.num_ack_pending == 0)

            announced = [record(index) for index in range(3)]
            assert outbox.step().segments == 3
            deliver()
            assert sorted(s.remote_id for s in _node_segments(station)) == announced
            cached = node_footage.cache_folder(station.path) / f"{NODE}-{announced[0]}.mp4"
            cached.parent.mkdir(parents=True)
            cached.write_bytes(b"the station's copy")

            record(3)  # recorded, then deleted before the outbox saw it
            config = RecordingConfig(path=folder, retain_days=1, min_free_gb=0)
            RetentionSweeper(node, config).sweep(now=time.time())
            assert recordings.segments(node) == []
            assert list(folder.iterdir()) == []
            sent = outbox.step()
            assert (sent.segments, sent.removals) == (0, 3)
            assert outbox.step().removals == 0  # each tombstone went once it was sent
            deliver()
            assert _node_segments(station) == []
            assert not cached.exists()

            again = SegmentRemoved("test-footage", "replayed", CAMERA, NODE, announced[1])
            headers = {"Nats-Msg-Id": "replayed:removed"}
            client.run(client.js.publish(subject(again), encode(again), headers=headers))
            deliver()
            assert _removals_stored() == (before[0] + 3, before[1] + 1)
        finally:
            client.close()
            node.close()
            station.close()


def _removals_stored() -> tuple[float, float]:
    """The station's counts of removal events: (forgot a row, had none)."""

    def count(outcome: str) -> float:
        labels = {"event": "segment_removed", "outcome": outcome}
        return REGISTRY.get_sample_value("matthan_cluster_alert_events_stored_total", labels) or 0.0

    return count("new"), count("skipped")


def test_the_sites_nats_server_with_tls_takes_only_clients_that_verify_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``cluster.tls`` the station's server speaks only TLS: a client with the site's
    authority connects, one without it (or in plain) does not, and a key that is not the
    certificate's stops the server before it starts, naming the key."""
    monkeypatch.setenv("MATTHAN_SITE_TOKEN", TOKEN)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_self_signed(cert, key, ["127.0.0.1"])
    port = free_port()

    def site(key_file: Path) -> SiteConfig:
        text = (
            f"site: {{name: K}}\nstorage: {{database: {tmp_path}/station.db}}\n"
            f'cluster: {{enabled: true, url: "nats://127.0.0.1:{port}",'
            f" tls: {{cert: {cert}, key: {key_file}, ca: {cert}}}}}\n"
            "cameras: [{id: c, name: C, detect_url: 'rtsp://h/x'}]\n"
        )
        return parse_site(text, Path("site.yaml"))

    other_key = tmp_path / "other-key.pem"
    make_self_signed(tmp_path / "other.pem", other_key, ["127.0.0.1"])
    with pytest.raises(NatsServerError, match=r"cluster\.tls: cannot serve"):
        station_server(site(other_key))
    config = site(key)
    with station_server(config).start() as server:
        client = NatsClient.connect(
            server.url, TOKEN, name="verifies", tls=site_tls(config.cluster)
        )
        assert client.connected
        client.close()
        with pytest.raises((NatsClientError, TimeoutError)):  # it never gets an answer
            NatsClient.connect(server.url, TOKEN, name="plain", timeout_s=3)
        unverified = ssl.create_default_context()  # the system's authorities only
        with pytest.raises((NatsClientError, TimeoutError)):
            NatsClient.connect(server.url, TOKEN, name="unverified", tls=unverified, timeout_s=3)
