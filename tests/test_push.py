"""Alerts on phones: a new alert reaches a push endpoint within 2 s, encrypted for the browser
alone, signed with the dashboard's VAPID key, and only where the user's areas and filters say.

Everything is real but the push service, which is a small HTTP server on 127.0.0.1
(:mod:`tests.push_endpoint`) that decrypts each push with the keys the test's "browser" made
(RFC 8291) and checks the ``Authorization`` header against the key the dashboard serves
(RFC 8292). Alerts are written by another store connection and announced over the real
``alert_notices`` channel, as the detection core does; the dashboard's pump, bus and sender
do the rest.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from common import alert_rows, audit
from common.alert_rows import NewAlert
from common.channel import Channel, DropPolicy
from common.messages import AlertNotice, Severity
from common.store import Store
from dashboard.app import create_app
from dashboard.services.push_keys import key_path
from dashboard.services.push_match import site_time
from dashboard.services.push_sender import PushPolicy, PushSender
from tests.dashboard_site import add_alert, jpeg, login, site_config
from tests.push_endpoint import Browser, ECEException, PushEndpoint, check_vapid, push_endpoint
from tests.site_store import database, template

__all__ = ["database", "template"]

ARRIVAL_S = 2.0
"""The most a push may take from the alert's notice to the push endpoint."""
SITE_NAME = "Công an xã Bát Tràng (thử)"
POLICY = PushPolicy(allow_http_loopback=True, first_pause_s=0.1, timeout_s=2.0)


class Site:
    """The dashboard with the notice channel into it, a writer on its store, the push
    endpoint, and a logged-in client per user."""

    def __init__(self, database: Path, endpoint: PushEndpoint) -> None:
        self.database = database
        self.endpoint = endpoint
        self.notices: Channel[AlertNotice] = Channel.create(
            mp.get_context("spawn"), "alert_notices", 64, policy=DropPolicy.NEWEST
        )
        self.app = create_app(site_config(), database, notices=self.notices, push=POLICY)
        self.writer = Store(database)
        self.clients: dict[str, TestClient] = {}
        self.csrf: dict[str, str] = {}

    def client(self, username: str) -> TestClient:
        """The user's client (cookies of their own); the first one runs the app's lifespan,
        the others call the app it started."""
        if username not in self.clients:
            client = TestClient(self.app)
            if not self.clients:
                client.__enter__()
            self.csrf[username] = login(client, username)
            self.clients[username] = client
        return self.clients[username]

    def subscribe(self, username: str, browser: Browser, **filters: object) -> int:
        response = self.client(username).put(
            "/api/push/subscription",
            json={"subscription": browser.subscription(self.endpoint.base_url), "filters": filters},
            headers={"X-CSRF-Token": self.csrf[username]},
        )
        assert response.status_code == 200, response.text
        subscription_id: int = response.json()["id"]
        return subscription_id

    def alert(self, camera_id: str, severity: Severity = Severity.WARNING) -> tuple[int, float]:
        """Store an alert as the detection core does and announce it; its id and the moment
        of the notice (monotonic)."""
        if severity is Severity.WARNING:
            alert_id = add_alert(self.writer, camera_id)
        else:
            alert_id = alert_rows.add_alert(
                self.writer,
                NewAlert(camera_id, "intrusion", "nguoi-vao-cho", severity, time.time(), jpeg()),
            )
        sent_at = time.monotonic()
        assert self.notices.send(AlertNotice(alert_id, camera_id, "intrusion"))
        return alert_id, sent_at

    def close(self) -> None:
        first = next(iter(self.clients.values()), None)
        if first is not None:
            first.__exit__(None, None, None)
        self.writer.close()
        self.notices.close(flush_s=0.2)


@pytest.fixture
def site(database: Path) -> Iterator[Site]:
    with push_endpoint() as endpoint:
        made = Site(database, endpoint)
        made.client("admin")  # the app is started (lifespan) from here on
        try:
            yield made
        finally:
            made.close()


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counted(name: str, since: float, timeout_s: float = 2.0, **labels: str) -> float:
    """How much ``name`` grew since it was ``since``, once it grew (or ``timeout_s`` passed):
    the endpoint sees a push before the sender has read its answer."""
    deadline = time.monotonic() + timeout_s
    while counter(name, **labels) == since and time.monotonic() < deadline:
        time.sleep(0.02)
    return counter(name, **labels) - since


def test_a_new_alert_reaches_the_phone_within_2_s_encrypted_and_signed(site: Site) -> None:
    phone, with_picture = Browser("phone"), Browser("tablet")
    site.subscribe("viewer", phone)
    site.subscribe("viewer", with_picture, allow_picture=True)
    public_key = site.client("viewer").get("/api/push/key").json()["public_key"]

    alert_id, sent_at = site.alert("cho-gom")
    (delivery,) = site.endpoint.wait(phone.name, timeout_s=ARRIVAL_S + 3)
    assert delivery.at - sent_at < ARRIVAL_S
    stored = alert_rows.alert(site.writer, alert_id)
    assert stored is not None
    message = phone.decrypt(delivery.body)
    assert message == {
        "alert_id": alert_id,
        "camera_id": "cho-gom",
        "camera_name": "Chợ Gốm",
        "rule": "nguoi-vao-cho",
        "kind": "intrusion",
        "severity": "warning",
        "at": stored.started_at,
        "at_text": site_time(stored.started_at, "Asia/Ho_Chi_Minh"),
        "url": f"/?alert={alert_id}",
    }
    assert delivery.headers["content-encoding"] == "aes128gcm"
    assert int(delivery.headers["ttl"]) == POLICY.ttl_s
    assert delivery.headers["urgency"] == "normal"
    check_vapid(delivery.headers["authorization"], public_key, site.endpoint.base_url)
    with pytest.raises(ECEException, match="InvalidTag"):  # for that browser alone
        with_picture.decrypt(delivery.body)

    # With the user's leave, the crop's address (not the picture): the user's session opens it.
    (shown,) = site.endpoint.wait(with_picture.name)
    picture = with_picture.decrypt(shown.body)["picture"]
    assert picture == f"/api/alerts/{alert_id}/crop.jpg"
    answer = site.client("viewer").get(str(picture))
    assert answer.status_code == 200
    assert answer.content.startswith(b"\xff\xd8")

    # The key pair stays next to the store, readable by its owner only.
    key = key_path(site.database)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


def test_only_the_alerts_a_user_may_see_and_chose_are_pushed(site: Site) -> None:
    everything = Browser("admin-all")
    site.subscribe("admin", everything, kinds=["intrusion"])
    other_camera = Browser("viewer-parking-only")
    site.subscribe("viewer", other_camera, cameras=["bai-xe"])
    too_mild = Browser("operator-critical-only")
    site.subscribe("operator", too_mild, min_severity="critical")
    other_area = Browser("dyke-viewer")
    site.subscribe("dyke-viewer", other_area)

    market_alert, _ = site.alert("cho-gom")
    site.endpoint.wait(everything.name)
    time.sleep(0.5)  # the sender handles one alert's pushes in turn: the others are decided
    assert site.endpoint.to(other_camera.name) == []
    assert site.endpoint.to(too_mild.name) == []
    assert site.endpoint.to(other_area.name) == []

    # A review's update is no new alert: nothing is pushed for it.
    site.notices.send(AlertNotice(market_alert, "cho-gom", "intrusion", updated=True))
    critical, _ = site.alert("cho-gom", Severity.CRITICAL)
    dyke, _ = site.alert("de-song")
    (urgent,) = site.endpoint.wait(too_mild.name)
    assert too_mild.decrypt(urgent.body)["alert_id"] == critical
    assert urgent.headers["urgency"] == "high"
    (own_area,) = site.endpoint.wait(other_area.name)
    assert other_area.decrypt(own_area.body)["alert_id"] == dyke
    pushed = [
        everything.decrypt(d.body)["alert_id"] for d in site.endpoint.wait(everything.name, 3)
    ]
    assert pushed == [market_alert, critical, dyke]
    assert site.endpoint.to(other_camera.name) == []

    # A site-wide alert (the disk, analysis) concerns every camera: it passes camera choices.
    disk = NewAlert("*", "disk_low", "disk_low", Severity.CRITICAL, time.time(), jpeg())
    site_wide = alert_rows.add_alert(site.writer, disk)
    assert site.notices.send(AlertNotice(site_wide, "*", "disk_low"))
    (whole_site,) = site.endpoint.wait(other_camera.name)
    message = other_camera.decrypt(whole_site.body)
    assert (message["alert_id"], message["camera_name"]) == (site_wide, SITE_NAME)


def test_a_busy_push_service_is_tried_again_and_a_gone_browser_is_forgotten(site: Site) -> None:
    busy, gone = Browser("busy"), Browser("gone")
    site.subscribe("operator", busy)
    gone_id = site.subscribe("operator", gone)
    site.endpoint.answer(busy.name, 500, 503)
    site.endpoint.answer(gone.name, 410)
    before = {
        "sent": counter("matthan_push_sent_total"),
        "retries": counter("matthan_push_retries_total"),
        "gone": counter("matthan_push_failed_total", reason="gone"),
    }

    alert_id, _ = site.alert("bai-xe")
    tries = site.endpoint.wait(busy.name, 3)
    assert [d.status for d in tries] == [500, 503, 201]
    assert {busy.decrypt(d.body)["alert_id"] for d in tries} == {alert_id}
    assert [d.status for d in site.endpoint.wait(gone.name)] == [410]
    assert counted("matthan_push_retries_total", before["retries"]) == 2
    assert counted("matthan_push_sent_total", before["sent"]) == 1
    assert counted("matthan_push_failed_total", before["gone"], reason="gone") == 1

    mine = site.client("operator").get("/api/push/subscriptions").json()
    assert [s["endpoint"].rsplit("/", 1)[1] for s in mine] == [busy.name]
    last = audit.latest(site.writer, audit.Action.PUSH_GONE)
    assert last is not None
    assert (last.actor, last.target) == ("system", f"push {gone_id}")
    site.alert("bai-xe")
    site.endpoint.wait(busy.name, 4)
    assert len(site.endpoint.to(gone.name, status=None)) == 1  # no push to it any more


def test_subscriptions_are_checked_owned_and_audited(site: Site) -> None:
    viewer, csrf = site.client("viewer"), site.csrf["viewer"]
    headers = {"X-CSRF-Token": csrf}
    browser = Browser("checked")
    good = browser.subscription(site.endpoint.base_url)

    def put(subscription: object, **filters: object) -> int:
        body = {"subscription": subscription, "filters": filters}
        return viewer.put("/api/push/subscription", json=body, headers=headers).status_code

    keys = good["keys"]
    assert isinstance(keys, dict)
    assert put(good | {"endpoint": "http://push.example.net/x"}) == 422  # http off this host
    assert put(good | {"endpoint": "ftp://push.example.net/x"}) == 422
    assert put(good | {"keys": keys | {"auth": "c2hvcnQ"}}) == 422  # not 16 bytes
    not_a_point = "B" + "A" * 86  # 65 bytes, not on the curve
    assert put(good | {"keys": keys | {"p256dh": not_a_point}}) == 422
    assert put(good | {"keys": keys | {"p256dh": "A" * 5000}}) == 422
    assert put(good, min_severity="loud") == 422
    assert put(good | {"endpoint": "https://fcm.googleapis.com/fcm/send/abc"}) == 200

    # Cameras and rules of the user's own areas only; an admin's subscription is not theirs.
    dyke = site.client("dyke-viewer")
    dyke_headers = {"X-CSRF-Token": site.csrf["dyke-viewer"]}
    body = {"subscription": Browser("d").subscription(site.endpoint.base_url)}
    for filters in ({"cameras": ["cho-gom"]}, {"rules": ["nguoi-vao-cho"]}):
        answer = dyke.put(
            "/api/push/subscription", json=body | {"filters": filters}, headers=dyke_headers
        )
        assert answer.status_code == 404, filters
    subscription_id = site.subscribe("viewer", browser, cameras=["cho-gom"])
    path = f"/api/push/subscriptions/{subscription_id}"
    assert dyke.patch(path, json={}, headers=dyke_headers).status_code == 404
    assert dyke.delete(path, headers=dyke_headers).status_code == 404
    changed = viewer.patch(
        path, json={"min_severity": "critical", "allow_picture": True}, headers=headers
    )
    assert changed.status_code == 200
    assert changed.json()["filters"] == {
        "cameras": [],
        "kinds": [],
        "rules": [],
        "min_severity": "critical",
        "allow_picture": True,
    }
    assert viewer.delete(path, headers=headers).status_code == 204
    assert viewer.delete(path, headers=headers).status_code == 404
    rows = audit.entries(site.writer, limit=3)
    assert [(row.action, row.actor, row.target) for row in rows] == [
        (action, "viewer", f"push {subscription_id}")
        for action in ("push.unsubscribe", "push.change", "push.subscribe")
    ]
    assert rows[1].detail["min_severity"] == "critical"

    # Plain http on this machine only where the policy allows it (the tests' endpoint).
    strict = create_app(site_config(), site.database)
    with TestClient(strict) as client:
        token = login(client, "viewer")
        answer = client.put(
            "/api/push/subscription", json={"subscription": good}, headers={"X-CSRF-Token": token}
        )
        assert answer.status_code == 422


def test_a_full_push_queue_drops_the_newest_and_counts_it(site: Site) -> None:
    """A sender whose worker takes nothing (not started) holds ``queue_size`` alerts; each
    further one is dropped and counted, and a review's update is neither queued nor dropped."""
    keys = site.app.state.push.keys
    sender = PushSender(site.app.state.dashboard, keys, PushPolicy(queue_size=3))
    assert sender.drop_policy is DropPolicy.NEWEST
    dropped = counter("matthan_push_dropped_total")
    for alert_id in range(1, 6):
        sender.notice(AlertNotice(alert_id, "cho-gom", "intrusion"))
    sender.notice(AlertNotice(1, "cho-gom", "intrusion", updated=True))
    assert counter("matthan_push_dropped_total") - dropped == 2
