"""The audit log's hash chain, on a real SQLite store: ``matthan audit verify`` says ok on a
real log and names the row someone changed with sqlite3; rows written by several processes
at once form one chain; a store from before the chain is chained at open."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common import audit
from common.accounts import Accounts, Role
from common.audit import Action
from common.store import Store
from tests.paths import REPO

PASSWORD = "mật-khẩu-đủ-dài"
OLD_AUDIT_LOG = """
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}',
    address TEXT NOT NULL DEFAULT ''
)"""
OLD_GUARDS = tuple(
    f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    for verb in ("UPDATE", "DELETE")
)


SITE = """\
site: {{name: "Công an xã (test)"}}
storage: {{database: "{database}"}}
cameras:
  - id: cho-gom
    name: "Chợ Gốm"
    area: "Thôn Bát Tràng"
    detect_url: rtsp://127.0.0.1:8554/cho-gom
    zones:
      - name: all
        points: [[0, 0], [1, 0], [1, 1]]
    rules:
      - {{kind: intrusion, name: nguoi-vao-cho, zone: all}}
"""


def site_file(folder: Path) -> Path:
    config = folder / "site.yaml"
    config.write_text(SITE.format(database=folder / "site.db"), encoding="utf-8")
    return config


def verify(config: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "matthan.cli", "audit", "verify", "-c", str(config)]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_verify_says_ok_then_names_the_row_changed_with_sqlite3(tmp_path: Path) -> None:
    config = site_file(tmp_path)
    store = Store(tmp_path / "site.db")
    accounts = Accounts(store)
    accounts.add_user("admin", PASSWORD, Role.ADMIN, actor="cli")
    accounts.add_user("operator", PASSWORD, Role.OPERATOR, actor="admin", address="10.0.0.7")
    audit.record(store, Action.EXPORT, "operator", target="cho-gom", detail={"reason": "vụ 17"})
    audit.record(store, Action.PLAYBACK, "operator", target="cho-gom", detail={"at": 1})
    store.close()

    good = verify(config)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("ok, 4 rows")

    with sqlite3.connect(tmp_path / "site.db") as db:  # someone hides who made row 2 an operator
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'cli' WHERE id = 2")
    broken = verify(config)
    assert broken.returncode == 1
    assert "row 2 " in broken.stderr
    assert "changed after it was written" in broken.stderr

    with sqlite3.connect(tmp_path / "site.db") as db:  # and then removes the row instead
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("DELETE FROM audit_log WHERE id = 2")
    removed = verify(config)
    assert removed.returncode == 1
    assert "row 3 " in removed.stderr
    assert "removed, inserted or rewritten" in removed.stderr


def _write_rows(database: Path, writer: int, count: int) -> None:
    store = Store(database)
    for index in range(count):
        audit.record(store, Action.PLAYBACK, f"user{writer}", target="cam", detail={"at": index})
    store.close()


def test_rows_written_by_several_processes_form_one_chain(tmp_path: Path) -> None:
    config, database = site_file(tmp_path), tmp_path / "site.db"
    Store(database).close()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_rows, args=(database, n, 40)) for n in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    checked = verify(config)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok, 160 rows")


def test_a_log_from_before_the_chain_is_chained_at_open(tmp_path: Path) -> None:
    """A schema-2 store with audit rows (and the append-only triggers) is migrated: its rows
    get their hashes in id order, and the triggers are back."""
    config, database = site_file(tmp_path), tmp_path / "site.db"
    with sqlite3.connect(database) as db:
        db.execute(OLD_AUDIT_LOG)
        for statement in OLD_GUARDS:
            db.execute(statement)
        for index in range(5):
            db.execute(
                "INSERT INTO audit_log (at, actor, action, target) VALUES (?,?,?,?)",
                (time.time() + index, "admin", "login.ok", ""),
            )
        db.execute("PRAGMA user_version=2")
    checked = verify(config)  # opening the store migrates it
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok, 5 rows")
    store = Store(database)
    try:
        audit.record(store, Action.LOGOUT, "admin")
        with pytest.raises(sqlite3.IntegrityError), store.transaction() as db:
            db.execute("UPDATE audit_log SET actor = 'x' WHERE id = 1")
    finally:
        store.close()
    assert verify(config).stdout.startswith("ok, 6 rows")
