"""Password guessing slows the guesser down and nobody else: the real app on a real store,
with parallel requests from threads, and the throttle's arithmetic on a fake clock.

User names are visible to every viewer, so a limit per user name would let anyone lock
every operator out during an incident; these tests pin that a third party's failures do
not stop the user logging in from another desk, that parallel requests cannot get more
password checks than one after the other, and that refused tries leave one audit row
with their count, not a row each.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.accounts import User
from tests.dashboard_site import PASSWORD, login
from tests.site_store import app, database, template

__all__ = ["app", "database", "template"]  # fixtures, found by pytest here

GUESSER = "10.0.0.66"
DESK = "10.0.0.7"
WRONG = {"username": "operator", "password": "not-the-password"}
FREE_FAILURES = 3  # dashboard.login_free_failures, by default


@pytest.fixture
def guesser(app: FastAPI) -> Iterator[TestClient]:
    """A client at the guesser's address; it runs the app's lifespan."""
    with TestClient(app, client=(GUESSER, 40000)) as client:
        yield client


def blocked_rows(database: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(database) as db:
        query = "SELECT target, address, detail FROM audit_log WHERE action = 'login.blocked'"
        return db.execute(query).fetchall()


def test_a_guesser_cannot_lock_a_user_out_from_another_desk(
    app: FastAPI, guesser: TestClient
) -> None:
    answers = [guesser.post("/api/login", json=WRONG).status_code for _ in range(12)]
    assert answers == [401] * FREE_FAILURES + [429] * 9
    # The guesser's own address waits, even with the right password: it is not checked.
    right = {"username": "operator", "password": PASSWORD}
    waiting = guesser.post("/api/login", json=right)
    assert waiting.status_code == 429
    assert 1 <= int(waiting.headers["retry-after"]) <= 2
    # The operator at the station's desk logs in at once.
    login(TestClient(app, client=(DESK, 40000)), "operator")


def test_parallel_wrong_passwords_get_no_more_checks_than_serial_ones(
    guesser: TestClient,
) -> None:
    tries = 24
    start = threading.Barrier(tries)

    def guess(_: int) -> int:
        start.wait()
        return guesser.post("/api/login", json=WRONG).status_code

    with ThreadPoolExecutor(tries) as pool:
        answers = list(pool.map(guess, range(tries)))
    checked = answers.count(401)
    assert 1 <= checked <= FREE_FAILURES, answers
    assert answers.count(429) == tries - checked, answers


def test_two_tabs_logging_in_together_both_get_in(app: FastAPI) -> None:
    """One check per pair at a time, but a second right password waits for the first's
    outcome instead of being refused (the alert feed and the page log in together)."""
    start = threading.Barrier(2)
    right = {"username": "operator", "password": PASSWORD}
    with TestClient(app, client=(DESK, 40000)) as desk:

        def log_in(_: int) -> int:
            start.wait()
            return desk.post("/api/login", json=right).status_code

        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(log_in, range(2))) == [200, 200]


def test_password_checks_at_once_are_capped_for_the_whole_site(
    app: FastAPI, guesser: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many addresses at once (a flood across the LAN): at most ``login_checks_at_once``
    memory-hard hashes run together; the rest are told to come back in a second."""
    accounts = app.state.dashboard.accounts
    checking, most, lock = 0, 0, threading.Lock()
    check = accounts.authenticate

    def counted(username: str, password: str) -> User | None:
        nonlocal checking, most
        with lock:
            checking += 1
            most = max(most, checking)
        try:
            time.sleep(1.0)  # a slow machine's hash: the requests surely overlap
            return check(username, password)
        finally:
            with lock:
                checking -= 1

    monkeypatch.setattr(accounts, "authenticate", counted)
    tries = 16
    start = threading.Barrier(tries)

    def guess(index: int) -> int:
        client = TestClient(app, client=(f"10.0.1.{index}", 40000))
        start.wait()
        return client.post("/api/login", json=WRONG).status_code

    with ThreadPoolExecutor(tries) as pool:
        answers = list(pool.map(guess, range(tries)))
    assert most <= 4, most
    assert answers.count(503) >= 1, answers
    assert set(answers) == {401, 503}, answers


def test_refused_tries_leave_one_audit_row_with_their_count(app: FastAPI, database: Path) -> None:
    with TestClient(app, client=(GUESSER, 40000)) as guesser:
        answers = [guesser.post("/api/login", json=WRONG).status_code for _ in range(30)]
    # Leaving the client stops the app, which writes the counts of windows still open.
    rows = blocked_rows(database)
    assert len(rows) == 1, rows
    target, address, detail = rows[0]
    assert (target, address) == ("operator", GUESSER)
    facts = json.loads(detail)
    assert facts["count"] == answers.count(429) == 30 - FREE_FAILURES
    assert facts["from"] <= facts["to"]
