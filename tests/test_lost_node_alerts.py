"""A node that stops reporting for good leaves no alert open at the station.

Real SQLite: the station's store with the nodes' reports (``cluster_nodes``, as the intake
writes them) and alerts as the alert stream stores them (uid ``<origin>-<row>``). The intake's
step :func:`end_lost_nodes_alerts` ends a silent node's open alerts as of its last report and
announces each to the feed; alerts of other nodes, of a node still reporting, ended ones and
re-analysis findings are left as they are, and the node's own end arriving later changes
nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import time
from pathlib import Path

from common import alert_rows, cluster_nodes
from common.alert_rows import NewAlert
from common.channel import Channel, DropPolicy
from common.cluster_nodes import NodeReport
from common.messages import AlertNotice, Severity
from common.migrations import SCHEMA_VERSION
from common.store import Store
from matthan.cluster.intake import end_lost_nodes_alerts, lost_after_s


def _alert(uid: str, camera: str = "cong") -> NewAlert:
    return NewAlert(
        camera_id=camera,
        kind="loitering",
        rule="cong-dem",
        severity=Severity.WARNING,
        started_at=time.time() - 300,
        snapshot_jpeg=b"\xff\xd8 a picture",
        uid=uid,
    )


def test_a_silent_nodes_open_alerts_end_as_of_its_last_report(tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db")
    notices: Channel[AlertNotice] = Channel.create(
        mp.get_context("spawn"), "lost_node_notices", 16, policy=DropPolicy.NEWEST
    )
    now = time.time()
    silent_since = now - 120
    cluster_nodes.record(
        store,
        [
            NodeReport("n1", ("cong",), ("cong",), silent_since, "http://n1:1", origin="aaa"),
            NodeReport("n2", ("cho",), ("cho",), now - 1, "http://n2:1", origin="bbb"),
        ],
    )
    lost = alert_rows.add_alert(store, _alert("aaa-1"))
    ended = alert_rows.add_alert(store, _alert("aaa-2"))
    alert_rows.end_alert(store, ended, now - 200)
    lookalike = alert_rows.add_alert(store, _alert("aaaa-3"))  # another origin, one letter more
    reporting = alert_rows.add_alert(store, _alert("bbb-1", "cho"))
    try:
        assert end_lost_nodes_alerts(store, now, lost_after_s(2.0), notices) == 1
        rows = {row[0]: row[1] for row in store.read("SELECT id, ended_at FROM alerts")}
        assert rows[lost] == silent_since  # as of its last report, not of now
        assert rows[ended] == now - 200
        assert rows[lookalike] is None
        assert rows[reporting] is None
        notice = notices.receive(timeout=2.0)
        assert notice == AlertNotice(lost, "cong", "loitering", updated=True)

        assert end_lost_nodes_alerts(store, now + 10, lost_after_s(2.0), notices) == 0
        alert_rows.end_alert_by_uid(store, "aaa-1", now + 20)  # n1 back, sending its own end
        assert store.read("SELECT ended_at FROM alerts WHERE id = ?", (lost,))[0][0] == silent_since
        # Silent for less than the threshold: nothing is ended.
        assert end_lost_nodes_alerts(store, now + 30, 1000.0, notices) == 0
        assert store.read("SELECT ended_at FROM alerts WHERE id = ?", (reporting,))[0][0] is None
    finally:
        notices.close()
        store.close()


def test_migration_8_gives_a_schema_7_file_the_nodes_origin(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    with sqlite3.connect(database) as db:
        db.executescript(
            "CREATE TABLE cluster_nodes (name TEXT PRIMARY KEY, cameras TEXT NOT NULL,"
            " analysing TEXT NOT NULL, seen_at REAL NOT NULL, footage_url TEXT);"
            "INSERT INTO cluster_nodes VALUES ('n1', '[]', '[]', 5.0, 'http://n1:1');"
            "PRAGMA user_version = 7;"
        )
    store = Store(database)
    try:
        (node,) = cluster_nodes.reports(store)
        assert (node.name, node.footage_url, node.origin) == ("n1", "http://n1:1", None)
        assert end_lost_nodes_alerts(store, time.time(), 60.0) == 0  # no origin: nothing to end
    finally:
        store.close()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 8
