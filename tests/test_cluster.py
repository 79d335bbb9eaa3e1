"""Scale-out building blocks against a real nats-server: camera leases and the alert stream.

The server is the real binary (scripts/install puts the Debian package in place), started on
a free port with a site token. Lease holders and the station's consumer are real processes
(tests/cluster_holder.py, tests/cluster_station.py) killed with SIGKILL, as a crash does.
What the tests measure (failover time, alerts lost and doubled) goes to
test-artifacts/cluster-results.json.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.alert_rows import NewAlert
from common.channel import Channel, DropPolicy
from common.messages import AlertNotice, Severity
from common.store import Store
from matthan.cluster import server as nats_server
from matthan.cluster.alert_events import AlertOpened, encode, subject
from matthan.cluster.alert_stream import DURABLE, STREAM, AlertPublisher, AlertStreamConsumer
from matthan.cluster.client import NatsAuthError, NatsClient
from matthan.cluster.leases import LEASES_BUCKET, CameraLeases
from matthan.cluster.server import NatsServer, NatsServerMissingError
from tests.conftest import ARTIFACTS, free_port
from tests.paths import REPO

TOKEN = "cluster-test-site-token-0123456789"
LEASE_S = 2.0
CAMERAS = [f"cam{index}" for index in range(9)]
RESULTS = ARTIFACTS / "cluster-results.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(tmp_path_factory.mktemp("nats"), token=TOKEN, port=free_port()) as running:
        yield running


@pytest.fixture
def client(server: NatsServer) -> Iterator[NatsClient]:
    connection = NatsClient.connect(server.url, TOKEN, name="test")
    yield connection
    connection.close()


def _env() -> dict[str, str]:
    return {**os.environ, "MATTHAN_SITE_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}


def _record(**numbers: float) -> None:
    """Merge the measured numbers into test-artifacts/cluster-results.json."""
    ARTIFACTS.mkdir(exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(numbers)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


class Holder:
    """One lease-holder process and the reports it printed: (monotonic time, cameras held)."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster_holder", url, name, str(LEASE_S), *CAMERAS],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
        )
        self.reports: list[tuple[float, frozenset[str]]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            report = json.loads(line)
            self.reports.append((report["t"], frozenset(report["held"])))

    @property
    def held(self) -> frozenset[str]:
        return self.reports[-1][1] if self.reports else frozenset()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)
        self._reader.join(5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``check()`` until it is true; returns when (monotonic)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def _balanced(holders: list[Holder], sizes: list[int]) -> bool:
    held = [holder.held for holder in holders]
    every = [camera for cameras in held for camera in cameras]
    return sorted(len(cameras) for cameras in held) == sorted(sizes) and sorted(every) == CAMERAS


def _overlaps(holders: list[Holder]) -> list[str]:
    """Cameras two holders reported at once: per holder and camera, each run of consecutive
    reports holding it is an interval; two holders' intervals of a camera must not meet."""
    intervals: dict[str, list[tuple[float, float, str]]] = {camera: [] for camera in CAMERAS}
    for holder in holders:
        for camera in CAMERAS:
            start: float | None = None
            last = 0.0
            for at, held in holder.reports:
                if camera in held:
                    start = at if start is None else start
                    last = at
                elif start is not None:
                    intervals[camera].append((start, last, holder.name))
                    start = None
            if start is not None:
                intervals[camera].append((start, last, holder.name))
    found = []
    for camera, spans in intervals.items():
        spans.sort()
        for (_, end, name), (start, _, other) in itertools.pairwise(spans):
            if start <= end and name != other:
                found.append(f"{camera}: {name} and {other}")
    return found


def test_leases_fail_over_and_rebalance(server: NatsServer) -> None:
    holders = [Holder(server.url, name) for name in ("node-a", "node-b", "node-c")]
    a, b, c = holders
    try:
        _wait_until(lambda: _balanced(holders, [3, 3, 3]), 15, "three nodes hold 3 cameras each")

        killed_at = time.monotonic()
        c.kill()
        covered_at = _wait_until(
            lambda: _balanced([a, b], [5, 4]), LEASE_S + 8, "node-c's cameras taken over"
        )
        failover_s = covered_at - killed_at
        assert failover_s < LEASE_S + 5, f"failover took {failover_s:.1f} s"
        before = {a.name: a.held, b.name: b.held}

        d = Holder(server.url, "node-d")
        holders.append(d)
        _wait_until(lambda: _balanced([a, b, d], [3, 3, 3]), 10, "node-d takes a fair share")
        time.sleep(LEASE_S)  # settled: nothing moves after the share is reached
        assert _balanced([a, b, d], [3, 3, 3])
        # Only what node-d needed moved: a and b kept a subset of what they held.
        assert a.held <= before[a.name]
        assert b.held <= before[b.name]
        moved = len(CAMERAS) - len(a.held) - len(b.held)
        assert moved == len(d.held) == 3

        # A fourth live node over 9 cameras: 3 + 2 + 2 + 2, and only 2 cameras move.
        before = {holder.name: holder.held for holder in (a, b, d)}
        e = Holder(server.url, "node-e")
        holders.append(e)
        _wait_until(lambda: _balanced([a, b, d, e], [3, 2, 2, 2]), 10, "node-e takes a share")
        time.sleep(LEASE_S)
        assert _balanced([a, b, d, e], [3, 2, 2, 2])
        assert all(holder.held <= before[holder.name] for holder in (a, b, d))
        assert len(e.held) == 2

        assert _overlaps(holders) == []
        _record(lease_s=LEASE_S, failover_s=round(failover_s, 2), leases_moved_on_join=moved)
    finally:
        for holder in holders:
            holder.stop()


def test_a_lease_lost_while_stalled_is_given_up(client: NatsClient, server: NatsServer) -> None:
    """A node that stopped renewing (a long pause, a cut link) and comes back after another
    node took its cameras gives them up: its renewal compares the revision and fails."""
    other = NatsClient.connect(server.url, TOKEN, name="fresh")
    try:
        stalled = CameraLeases(client, "stalled", CAMERAS, lease_s=LEASE_S)
        fresh = CameraLeases(other, "fresh", CAMERAS, lease_s=LEASE_S)
        assert stalled.step() == frozenset(CAMERAS)  # alone: it holds every camera
        time.sleep(LEASE_S + 0.6)  # no renewal: the leases and the node key expire
        assert stalled.held() == frozenset()  # it stops analysing before anyone can take over
        assert fresh.step() == frozenset(CAMERAS)
        assert stalled.step() == frozenset()  # lost, not taken back by overwriting
        assert fresh.step() == frozenset(CAMERAS[:5])  # then shares with it as with any node
        assert stalled.step() == frozenset(CAMERAS[5:])
        # A camera taken between a node's snapshot and its take is left to its holder.
        leases_kv = client.run(client.js.key_value(LEASES_BUCKET))
        client.run(stalled._take(leases_kv, [CAMERAS[0]], target=len(CAMERAS)))
        assert stalled.held() == frozenset(CAMERAS[5:])
    finally:
        for leases in (fresh, stalled):
            leases.release_all()
        other.close()


def test_overlap_check_sees_a_camera_held_twice() -> None:
    """The no-double check of the lease test is not vacuous: two reports at once fail it."""
    a = Holder.__new__(Holder)
    b = Holder.__new__(Holder)
    a.name, b.name = "a", "b"
    a.reports = [(1.0, frozenset({"cam1"})), (2.0, frozenset({"cam1"}))]
    b.reports = [(1.5, frozenset({"cam1"})), (2.5, frozenset())]
    assert _overlaps([a, b]) == ["cam1: a and b"]
    b.reports = [(2.5, frozenset({"cam1"}))]
    assert _overlaps([a, b]) == []


class Station:
    """The station's consumer process and the counts it printed."""

    def __init__(self, url: str, database: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster_station", url, str(database), "1.5"],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
        )
        self.counts = {"stored": 0, "skipped": 0, "redelivered": 0, "deferred": 0}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            report = json.loads(line)
            for key in self.counts:
                self.counts[key] += report.get(key, 0)

    def end(self, how: signal.Signals) -> None:
        if self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait(10)
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _alert(index: int) -> NewAlert:
    picture = os.urandom(20_000)  # pictures travel whole: compared byte for byte below
    return NewAlert(
        camera_id=f"cam{index % 3}",
        kind="intrusion",
        rule="fence",
        severity=Severity.WARNING,
        started_at=1_000_000.0 + index,
        triggered_at=1_000_000.5 + index,
        snapshot_jpeg=picture,
        crop_jpeg=picture[:500],
        class_name="person",
        track_id=index,
        confidence=0.75,
        box=(0.1, 0.2, 0.3, 0.4),
        uid=f"node-a-{index}",
    )


class Producer(threading.Thread):
    """A node publishing ``opened`` for each alert and ``ended`` three alerts later, some
    twice on purpose (a producer that publishes again after a lost answer)."""

    def __init__(self, publisher: AlertPublisher, alerts: list[NewAlert]) -> None:
        super().__init__(daemon=True)
        self._publisher = publisher
        self.alerts = alerts
        self.ended_at = {alert.uid: alert.started_at + 30 for alert in alerts}
        self.dropped_by_server = 0
        """Re-publishes the server dropped as duplicates (same Nats-Msg-Id)."""

    def run(self) -> None:
        for index, alert in enumerate(self.alerts):
            self._publisher.opened(alert)
            if index % 5 == 0:
                self.dropped_by_server += not self._publisher.opened(alert)
            if index >= 3:
                self._end(self.alerts[index - 3], twice=index % 7 == 0)
            time.sleep(0.01)
        for alert in self.alerts[-3:]:
            self._end(alert, twice=False)

    def _end(self, alert: NewAlert, *, twice: bool) -> None:
        assert alert.uid is not None
        at = self.ended_at[alert.uid]
        self._publisher.ended(alert.camera_id, alert.kind, alert.uid, at)
        if twice:
            self.dropped_by_server += not self._publisher.ended(
                alert.camera_id, alert.kind, alert.uid, at
            )


def _replay(client: NatsClient, alerts: list[NewAlert]) -> None:
    """Publish ``opened`` again with new message ids, as a replay after the server's
    duplicate window would: only the store's uid can tell they are stored."""
    for alert in alerts:
        event = AlertOpened("test", alert)
        headers = {"Nats-Msg-Id": f"{alert.uid}:replay"}
        client.run(client.js.publish(subject(event), encode(event), headers=headers))


def test_alert_stream_survives_a_killed_station(
    server: NatsServer, client: NatsClient, tmp_path: Path
) -> None:
    total = 120
    producer = Producer(AlertPublisher(client, "test"), [_alert(index) for index in range(total)])
    database = tmp_path / "station.db"
    Store(database).close()
    station = Station(server.url, database)
    producer.start()
    reader = Store(database)
    try:
        _wait_until(lambda: _count(reader) >= total // 4, 20, "the station stores alerts")
        station.end(signal.SIGKILL)
        stored_at_kill = _count(reader)
        assert stored_at_kill < total, "the station was not killed mid-stream"
        time.sleep(0.5)  # the producer goes on while the station is down
        first = station.counts
        station = Station(server.url, database)
        producer.join(30)
        _replay(client, producer.alerts[:5])
        _wait_until(lambda: _drained(client), 30, "the station acked every event")
        station.end(signal.SIGTERM)

        rows = reader.read(
            "SELECT a.uid, a.ended_at, i.snapshot FROM alerts a"
            " JOIN alert_images i ON i.alert_id = a.id WHERE a.uid LIKE 'node-a-%'"
        )
        uids = [row[0] for row in rows]
        lost, duplicated = total - len(set(uids)), len(uids) - len(set(uids))
        assert (lost, duplicated) == (0, 0)
        assert all(row[1] == producer.ended_at[row[0]] for row in rows), "an alert not ended"
        pictures = {alert.uid: alert.snapshot_jpeg for alert in producer.alerts}
        assert all(bytes(row[2]) == pictures[row[0]] for row in rows)
        expected_drops = len(range(0, total, 5)) + len(range(7, total, 7))
        assert producer.dropped_by_server == expected_drops
        skipped = first["skipped"] + station.counts["skipped"]
        assert skipped >= 5, "the replays were not recognised as stored"
        _record(
            alerts=total,
            alerts_lost=lost,
            alerts_duplicated=duplicated,
            alerts_stored_at_kill=stored_at_kill,
            republished_dropped_by_server=producer.dropped_by_server,
            events_skipped_as_stored=skipped,
            events_redelivered=first["redelivered"] + station.counts["redelivered"],
        )
    finally:
        producer.join(30)
        station.end(signal.SIGTERM)
        reader.close()


def test_each_stored_alert_is_announced_once(tmp_path: Path) -> None:
    """The station announces an alert when it stores it and when it ends, as the single-machine
    path does; a replayed event (already stored) announces nothing."""
    notices: Channel[AlertNotice] = Channel.create(
        mp.get_context("spawn"), "cluster_notices", 64, policy=DropPolicy.NEWEST
    )
    store = Store(tmp_path / "station.db")
    with NatsServer(tmp_path / "nats", token=TOKEN, port=free_port()) as own:
        connection = NatsClient.connect(own.url, TOKEN, name="notices")
        try:
            publisher = AlertPublisher(connection, "test")
            alerts = [_alert(index) for index in range(4)]
            for alert in alerts:
                assert alert.uid is not None
                publisher.opened(alert)
                publisher.ended(alert.camera_id, alert.kind, alert.uid, alert.started_at + 5)
            _replay(connection, alerts)
            consumer = AlertStreamConsumer(connection, store, notices, ack_wait_s=1.0)
            consumer.step(wait_s=0.2)
            while not _drained(connection):
                consumer.step(wait_s=0.2)
        finally:
            connection.close()
    received = []
    while (notice := notices.receive(timeout=0.5)) is not None:
        received.append(notice)
    notices.close()
    ids = {int(row[0]) for row in store.read("SELECT id FROM alerts")}
    store.close()
    opened = [notice for notice in received if not notice.updated]
    ended = [notice for notice in received if notice.updated]
    assert len(ids) == len(alerts)
    assert sorted(notice.alert_id for notice in opened) == sorted(ids)
    assert sorted(notice.alert_id for notice in ended) == sorted(ids)
    assert {notice.kind for notice in received} == {"intrusion"}


def _count(store: Store) -> int:
    return int(store.read("SELECT COUNT(*) FROM alerts WHERE uid LIKE 'node-a-%'")[0][0])


def _drained(client: NatsClient) -> bool:
    info = client.run(client.js.consumer_info(STREAM, DURABLE))
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


def test_wrong_token_is_refused(server: NatsServer) -> None:
    with pytest.raises(NatsAuthError):
        NatsClient.connect(server.url, "not-the-site-token-0000", name="intruder")
    right = NatsClient.connect(server.url, TOKEN, name="member")
    assert right.connected
    right.close()


def test_a_single_machine_site_does_not_import_nats() -> None:
    """The service, its roles and the dashboard run without NATS installed or configured."""
    modules = ", ".join(
        ("matthan.cli", "matthan.supervisor", "matthan.service", "dashboard.app", "detect.core")
    )
    script = (
        f"import sys, {modules}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'nats' "
        "or m.startswith('matthan.cluster')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_missing_binary_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(nats_server, "_DEBIAN_BINARY", tmp_path / "nats-server")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    with pytest.raises(NatsServerMissingError, match="apt-get install nats-server"):
        NatsServer(tmp_path, token=TOKEN, port=free_port()).start()
