"""Alerts have one owner: the kinds in one place, the writer's commit-then-announce, and
alerts a producer names with a uid stored once however often they arrive."""

from __future__ import annotations

import multiprocessing
import re
import sqlite3
from pathlib import Path

from common import alert_rows
from common.alert_rows import SCHEMA, LiveAlerts, NewAlert
from common.alert_writer import ANALYSIS_KINDS, AlertKind, AlertWriter
from common.channel import Channel, DropPolicy
from common.config import RULE_KINDS
from common.messages import AlertNotice, Severity
from common.store import SCHEMA_VERSION, Store
from ingest.tamper import Tamper
from tests.paths import REPO


def alert(uid: str | None = None, kind: str = AlertKind.INTRUSION) -> NewAlert:
    return NewAlert(
        camera_id="cong",
        kind=kind,
        rule="nguoi",
        severity=Severity.WARNING,
        started_at=1_800_000_000.0,
        snapshot_jpeg=b"\xff\xd8",
        uid=uid,
    )


def test_every_kind_a_producer_raises_is_an_alert_kind() -> None:
    kinds = {kind.value for kind in AlertKind}
    assert set(RULE_KINDS) <= kinds
    assert {tamper.value for tamper in Tamper} <= kinds
    assert set(RULE_KINDS) | {AlertKind.PLATE_WATCH} == {k.value for k in ANALYSIS_KINDS}


def test_the_writer_commits_then_announces(tmp_path: Path) -> None:
    store = Store(tmp_path / "site.db")
    context = multiprocessing.get_context("spawn")
    notices: Channel[AlertNotice] = Channel.create(
        context, "writer_test", 8, policy=DropPolicy.NEWEST
    )
    writer = AlertWriter(LiveAlerts(store), notices)
    alert_id = writer.open(alert())
    notice = notices.receive(2.0)
    assert notice == AlertNotice(alert_id, "cong", "intrusion")
    assert alert_rows.alert(store, alert_id) is not None
    writer.end(alert_id, "cong", "intrusion", 1_800_000_009.0)
    assert notices.receive(2.0) == AlertNotice(alert_id, "cong", "intrusion", updated=True)
    stored = alert_rows.alert(store, alert_id)
    assert stored is not None
    assert stored.ended_at == 1_800_000_009.0
    over = writer.open_ended(alert(kind=AlertKind.CAMERA_OFFLINE), 1_800_000_020.0)
    assert notices.receive(2.0) == AlertNotice(over, "cong", "camera_offline")
    assert notices.receive(0.2) is None, "an alert already over is announced once"
    notices.close()
    store.close()


def test_an_alert_with_a_uid_is_stored_once_and_ended_by_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "site.db")
    first = alert_rows.add_alert(store, alert("node-a/17"))
    again = alert_rows.add_alert(store, alert("node-a/17"))
    other = alert_rows.add_alert(store, alert("node-b/17"))
    plain = [alert_rows.add_alert(store, alert()), alert_rows.add_alert(store, alert())]
    assert first == again
    assert len({first, other, *plain}) == 4
    assert len(alert_rows.alerts_after(store, 0)) == 4
    assert alert_rows.end_alert_by_uid(store, "node-a/17", 1_800_000_005.0) == first
    assert alert_rows.end_alert_by_uid(store, "node-a/17", 1_800_000_099.0) == first
    ended = alert_rows.alert(store, first)
    assert ended is not None
    assert ended.ended_at == 1_800_000_005.0, "ending again changes nothing"
    assert alert_rows.end_alert_by_uid(store, "node-c/1", 1.0) is None
    store.close()


def test_a_store_of_schema_3_gets_the_uid_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA.replace(",\n    uid         TEXT\n", "\n"))
        db.execute(
            "INSERT INTO alerts (camera_id, kind, rule, severity, started_at, created_at)"
            " VALUES ('cong', 'intrusion', 'nguoi', 'warning', 1.0, 1.0)"
        )
        db.execute("PRAGMA user_version=3")
    assert "uid" not in SCHEMA.replace(",\n    uid         TEXT\n", "\n")
    store = Store(path)
    assert alert_rows.add_alert(store, alert("x")) == alert_rows.add_alert(store, alert("x"))
    assert len(alert_rows.alerts_after(store, 0)) == 2
    assert store.read("PRAGMA user_version")[0][0] == SCHEMA_VERSION
    store.close()


def test_every_kind_is_named_in_both_languages_and_offered_for_phones() -> None:
    strings = (REPO / "dashboard" / "static" / "lib" / "i18n.js").read_text("utf-8")
    for kind in AlertKind:
        assert strings.count(f"    kind_{kind.value}: ") == 2, kind  # vi and en
    page = (REPO / "dashboard" / "static" / "pages" / "notifications.js").read_text("utf-8")
    offered = re.search(r"const KINDS = \[(.*?)\];", page, re.S)
    assert offered is not None
    assert re.findall(r'"([a-z_]+)"', offered.group(1)) == [kind.value for kind in AlertKind]
