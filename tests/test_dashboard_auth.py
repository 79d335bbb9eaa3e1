"""Logins, sessions and their protections: cookie flags, rate limit, CSRF, revocation,
hashed passwords, the append-only audit log, and the CLI that creates the first admin."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.accounts import Accounts
from common.store import Store
from dashboard.app import create_app
from tests.dashboard_site import PASSWORD, login, site_config
from tests.site_store import app, client, database, template

__all__ = ["app", "client", "database", "template"]  # fixtures, found by pytest here

ACK = "/api/alerts/1/acknowledge"


def audit_actions(database: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT action, actor, target FROM audit_log ORDER BY id").fetchall()


def test_session_cookie_is_httponly_and_strict(client: TestClient) -> None:
    login(client, "viewer")
    cookie = client.cookies.jar._cookies["testserver.local"]["/"]["matthan_session"]  # type: ignore[attr-defined]
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite").lower() == "strict"
    assert not cookie.secure  # plain http: a Secure cookie would never come back


def test_session_cookie_is_secure_over_https(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post("/api/login", json={"username": "viewer", "password": PASSWORD})
    header = response.headers["set-cookie"].lower()
    assert "secure" in header.split("; ")
    assert "httponly" in header
    assert "samesite=strict" in header


def test_passwords_and_tokens_are_stored_hashed(client: TestClient, database: Path) -> None:
    login(client, "viewer")
    token = client.cookies["matthan_session"]
    with sqlite3.connect(database) as db:
        query = "SELECT password_hash FROM users WHERE username = 'viewer'"
        (password_hash,) = db.execute(query).fetchone()
        sessions = db.execute("SELECT token_hash FROM sessions").fetchall()
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert sessions
    assert all(token not in row[0] for row in sessions)


def test_wrong_password_is_refused_and_audited(client: TestClient, database: Path) -> None:
    response = client.post("/api/login", json={"username": "viewer", "password": "wrong-password"})
    assert response.status_code == 401
    response = client.post("/api/login", json={"username": "no-such-user", "password": "whatever"})
    assert response.status_code == 401
    failed = [row for row in audit_actions(database) if row[0] == "login.failed"]
    assert [row[2] for row in failed] == ["viewer", ""]  # an unknown name is not kept


def test_an_address_guessing_many_users_is_refused_for_all_of_them(database: Path) -> None:
    """Guessing one user slows that address and name only (``tests/test_login_throttle.py``);
    guessing across users runs into the address's budget, and only that address."""
    app = create_app(site_config(login_address_failures=4), database)
    with TestClient(app, client=("10.0.0.1", 40000)) as first:
        for username in ("viewer", "operator", "admin", "dyke-viewer"):
            wrong = {"username": username, "password": "wrong-password"}
            assert first.post("/api/login", json=wrong).status_code == 401
        right = {"username": "admin", "password": PASSWORD}
        blocked = first.post("/api/login", json=right)
        assert blocked.status_code == 429
        assert 890 <= int(blocked.headers["retry-after"]) <= 900  # login_address_window_s
        login(TestClient(app, client=("10.0.0.2", 40000)), "admin")
    assert ("login.blocked", "", "admin") in audit_actions(database)


def test_changes_need_the_csrf_token_and_same_origin(client: TestClient) -> None:
    csrf = login(client, "operator")
    assert client.post(ACK, json={}).status_code == 403
    assert client.post(ACK, json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    foreign = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
    assert client.post(ACK, json={}, headers=foreign).status_code == 403
    same = {"X-CSRF-Token": csrf, "Origin": "http://testserver"}
    assert client.post(ACK, json={"note": "seen"}, headers=same).status_code == 200
    login_from_afar = client.post(
        "/api/login",
        json={"username": "viewer", "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
    )
    assert login_from_afar.status_code == 403


def test_logout_ends_the_session_on_the_server(client: TestClient, database: Path) -> None:
    csrf = login(client, "viewer")
    token = client.cookies["matthan_session"]
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("matthan_session", token)  # a copy of the cookie kept by someone
    assert client.get("/api/me").status_code == 401
    assert ("logout", "viewer", "") in audit_actions(database)


def test_logging_out_elsewhere_ends_the_other_sessions_only(app: FastAPI, database: Path) -> None:
    with TestClient(app) as desk, TestClient(app) as phone, TestClient(app) as other:
        csrf = login(desk, "operator")
        login(phone, "operator")
        login(other, "viewer")
        answer = desk.post("/api/logout-others", headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"closed": 1}
        assert phone.get("/api/me").status_code == 401
        assert desk.get("/api/me").status_code == 200
        assert other.get("/api/me").status_code == 200  # another user's session is untouched
        again = desk.post("/api/logout-others", headers={"X-CSRF-Token": csrf})
        assert again.json() == {"closed": 0}
    assert ("logout.others", "operator", "") in audit_actions(database)


def test_disabling_a_user_ends_their_sessions(app: FastAPI) -> None:
    with TestClient(app) as admin, TestClient(app) as viewer:
        login(viewer, "viewer")
        csrf = login(admin, "admin")
        response = admin.patch(
            "/api/users/viewer", json={"disabled": True}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 200
        assert viewer.get("/api/me").status_code == 401
        again = viewer.post("/api/login", json={"username": "viewer", "password": PASSWORD})
        assert again.status_code == 401
        themself = admin.patch(
            "/api/users/admin", json={"role": "viewer"}, headers={"X-CSRF-Token": csrf}
        )
        assert themself.status_code == 409


def test_expired_sessions_are_refused(database: Path) -> None:
    store = Store(database)
    try:
        accounts = Accounts(store)
        user = accounts.require("viewer")
        live, _ = accounts.open_session(user, 60, "127.0.0.1")
        expired, _ = accounts.open_session(user, -1, "127.0.0.1")
        assert accounts.session(live) is not None
        assert accounts.session(expired) is None
    finally:
        store.close()


def test_language_is_remembered_per_user(client: TestClient) -> None:
    def language_at_login(username: str) -> str:
        client.cookies.clear()
        response = client.post("/api/login", json={"username": username, "password": PASSWORD})
        language: str = response.json()["language"]
        return language

    csrf = login(client, "viewer")
    english = {"language": "en"}
    assert (
        client.put("/api/me/language", json=english, headers={"X-CSRF-Token": csrf}).status_code
        == 204
    )
    assert language_at_login("viewer") == "en"
    assert language_at_login("operator") == "vi"


@pytest.mark.parametrize("table", ["audit_log", "alert_reviews"])
def test_history_tables_are_append_only(client: TestClient, database: Path, table: str) -> None:
    csrf = login(client, "operator")
    client.post(ACK, json={"note": "seen"}, headers={"X-CSRF-Token": csrf})
    with sqlite3.connect(database) as db:
        for statement in (f"UPDATE {table} SET at = 0", f"DELETE FROM {table}"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)


def test_cli_creates_the_first_admin(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        'site: {name: "CLI test"}\nstorage: {database: data/cli.db}\n'
        "cameras: [{id: cam, name: Cam, detect_url: 'rtsp://127.0.0.1:8554/cam'}]\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "matthan.cli", "user", "add", "-c", str(config)]
    env = {**os.environ, "MATTHAN_PASSWORD": PASSWORD}
    added = subprocess.run(
        [*command, "chief", "--role", "admin"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    no_password = {k: v for k, v in os.environ.items() if k != "MATTHAN_PASSWORD"}
    refused = subprocess.run(
        [*command, "deputy", "--role", "operator"],
        env=no_password,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert refused.returncode == 2
    assert "MATTHAN_PASSWORD" in refused.stderr
    store = Store(tmp_path / "data" / "cli.db")
    try:
        assert Accounts(store).authenticate("chief", PASSWORD) is not None
        assert Accounts(store).user("deputy") is None
    finally:
        store.close()
