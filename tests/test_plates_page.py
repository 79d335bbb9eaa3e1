"""The operator's side of plate reading: the plates search, a read's picture, the watch list
and the plate on alert cards, over the real app on a real store, and the plates page in real
Chromium (Vietnamese and English).

The reads carry real plate crops of the vn-parking data set (``<shared>/plates/vn-parking``,
``labels.csv`` says which plate each crop shows); they are put in the store as the detection
core puts them (:func:`common.plates.save_read`, :func:`common.plates.mark_watch_hit`).
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import ConsoleMessage, Dialog, Page, Response, expect, sync_playwright

from common import alert_rows, jobs, plates
from common.alert_rows import NewAlert
from common.alert_writer import AlertKind
from common.messages import Severity
from common.plates import NewPlateRead
from common.store import Store
from dashboard.app import create_app
from tests.area_footage import MARKET_CAMERA, MarketFootage, add_market_footage, site_for
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.dashboard_site import (
    AREA_DYKE,
    AREA_MARKET,
    add_finished_job,
    copy_store,
    fill_store,
    jpeg,
    login,
)
from tests.paths import require, shared_dir
from tests.test_dashboard_i18n import english_leaks, log_in

PLATES_HOW = "put the vn-parking plate data set there, or set MATTHAN_SHARED"
WATCHED = "84-B1*"
# A time as the pages write it (the page's own module: the site's zone is set in it).
FORMAT_TIME = "(at) => import('/static/lib/time.js').then((m) => m.formatTime(at))"


@dataclass(frozen=True, slots=True)
class Sighting:
    """A vehicle whose plate a camera read ``age_s`` seconds before the test's moment."""

    camera_id: str
    track_id: int
    class_name: str
    plate: str
    age_s: float


SIGHTINGS = (  # stored in this order: ids 1..5, which is not the order of their moments
    Sighting("cho-gom", 11, "car", "75-H1 357.92", 3600),
    Sighting("bai-xe", 12, "motorcycle", "66-P1 895.75", 1800),
    Sighting("de-song", 13, "car", "84-B1 362.17", 600),
    Sighting("cho-gom", 14, "car", "81-AA 048.92", 7200),
    Sighting("bai-xe", 15, "car", "81-K5 3579", 300),
)


def plate_crops() -> dict[str, bytes]:
    """The JPEG of a real crop of each labelled plate (the first one ``labels.csv`` lists)."""
    folder = require(shared_dir() / "plates" / "vn-parking", "plate data set", PLATES_HOW)
    crops: dict[str, bytes] = {}
    with (folder / "labels.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["file"].startswith("crops/") and row["plate_text"] not in crops:
                crops[row["plate_text"]] = (folder / row["file"]).read_bytes()
    return crops


@dataclass(frozen=True, slots=True)
class StoredReads:
    ids: dict[str, int]
    """Read id by plate."""
    moments: dict[str, float]
    """When each plate was read."""
    watch_alert: int
    """The alert the watch-listed plate raised."""
    vehicle_alert: int
    """An intrusion alert about the car whose plate is ``75-H1 357.92``."""
    finding: int
    """A re-analysis finding whose job read a watch-listed plate: a row of the alerts table
    with its job's id, never in the live list, its plate only the job's."""


def add_reads(database: Path, now: float, market_at: float | None = None) -> StoredReads:
    """The :data:`SIGHTINGS` as the detection core stores them: a read per track, the watch
    list entry :data:`WATCHED` (added by the admin) and the alert the dyke's read raised, and
    an intrusion alert about the market's car whose plate was read (at ``market_at`` when
    given, in the market camera's recorded footage); and a re-analysis job that read the
    parking lot's plate again and raised a finding on it."""
    crops = plate_crops()
    store = Store(database)
    try:
        ids, moments = {}, {}
        for seen in SIGHTINGS:
            at = market_at if market_at and seen is SIGHTINGS[0] else now - seen.age_s
            read = NewPlateRead(
                camera_id=seen.camera_id,
                track_id=seen.track_id,
                class_name=seen.class_name,
                plate=seen.plate,
                confidence=0.91,
                agreeing=4,
                crops=5,
                first_at=at - 3.0,
                at=at,
                source="detect",
                crop_jpeg=crops[seen.plate],
            )
            ids[seen.plate], moments[seen.plate] = plates.save_read(store, read), at
        plates.add_watch(store, WATCHED, note="Xe bị truy tìm", by="admin", at=now - 86400)
        dyke = SIGHTINGS[2]
        watch_alert = alert_rows.add_alert(
            store,
            NewAlert(
                camera_id=dyke.camera_id,
                kind=AlertKind.PLATE_WATCH,
                rule=WATCHED,
                severity=Severity.CRITICAL,
                started_at=moments[dyke.plate],
                snapshot_jpeg=jpeg(seed=5),
                crop_jpeg=crops[dyke.plate],
                class_name=dyke.class_name,
                track_id=dyke.track_id,
                confidence=0.91,
            ),
        )
        plates.mark_watch_hit(store, ids[dyke.plate], WATCHED, watch_alert)
        market = SIGHTINGS[0]
        vehicle_alert = alert_rows.add_alert(
            store,
            NewAlert(
                camera_id=market.camera_id,
                kind="intrusion",
                rule="nguoi-vao-cho",
                severity=Severity.WARNING,
                started_at=moments[market.plate] - 2.0,
                snapshot_jpeg=jpeg(seed=6),
                crop_jpeg=jpeg(160, 300, 6),
                class_name=market.class_name,
                track_id=market.track_id,
                confidence=0.8,
            ),
        )
        finding = job_read(store, crops, moments["66-P1 895.75"])
    finally:
        store.close()
    return StoredReads(ids, moments, watch_alert, vehicle_alert, finding)


def job_read(store: Store, crops: dict[str, bytes], at: float) -> int:
    """A finished job over the parking lot whose read of ``66-P1 895.75`` hit the watch list
    (as the plate reader stores a job's reads) and raised its one finding; returns its id."""
    job_id = add_finished_job(store, "bai-xe", findings=1)
    (finding,) = jobs.job_alerts(store, job_id)
    read = NewPlateRead(
        camera_id="bai-xe",
        track_id=12,
        class_name="motorcycle",
        plate="66-P1 895.75",
        confidence=0.9,
        agreeing=2,
        crops=2,
        first_at=at - 1.0,
        at=at,
        source="record",
        crop_jpeg=crops["66-P1 895.75"],
        job_id=job_id,
    )
    plates.mark_watch_hit(store, plates.save_read(store, read), "66-P1*", finding.id)
    return finding.id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoredReads]:
    path = tmp_path_factory.mktemp("plates") / "site.db"
    fill_store(path, alerts_per_camera=1)
    return path, add_reads(path, time.time())


@pytest.fixture
def site(template: tuple[Path, StoredReads], tmp_path: Path) -> tuple[Path, StoredReads]:
    return copy_store(template[0], tmp_path), template[1]


@pytest.fixture
def client(site: tuple[Path, StoredReads]) -> Iterator[TestClient]:
    with TestClient(create_app(site_for(site[0]), site[0])) as test_client:
        yield test_client


def found(client: TestClient, **query: str | float) -> list[str]:
    response = client.get("/api/plates", params=query)
    assert response.status_code == 200, response.text
    return [read["plate"] for read in response.json()]


def audit_rows(database: Path, action: str) -> list[tuple[str, str, dict[str, object]]]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT actor, target, detail FROM audit_log WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    return [(actor, target, json.loads(detail)) for actor, target, detail in rows]


# --- the search ----------------------------------------------------------------------------


def test_part_of_a_plate_finds_it_whatever_its_separators(
    client: TestClient, site: tuple[Path, StoredReads]
) -> None:
    login(client, "viewer")
    assert found(client, q="75H1") == ["75-H1 357.92"]
    assert found(client, q="75-h1 35") == ["75-H1 357.92"]
    assert found(client, q="H135792") == ["75-H1 357.92"]
    (read,) = client.get("/api/plates", params={"q": "75H1"}).json()
    at = site[1].moments["75-H1 357.92"]
    assert read["id"] == site[1].ids["75-H1 357.92"]
    assert (read["camera_id"], read["camera_name"], read["area"]) == (
        "cho-gom",
        "Chợ Gốm",
        AREA_MARKET,
    )
    assert (read["class_name"], read["agreeing"], read["crops"], read["source"]) == (
        "car",
        4,
        5,
        "detect",
    )
    assert read["at"] == pytest.approx(at)
    assert read["crop_url"] == f"/api/plates/{read['id']}/crop.jpg"
    assert read["replay_url"] == f"/cameras/cho-gom?at={int(at)}"
    assert (read["watch_entry"], read["alert_id"]) == (None, None)
    assert found(client, q="75H2") == []
    assert found(client, q="66P1") == ["66-P1 895.75"]  # a re-analysis job's read is not live


def test_wildcards_stand_for_characters(client: TestClient) -> None:
    login(client, "viewer")
    assert found(client, q="81*92") == ["81-AA 048.92"]
    assert found(client, q="8?-B1") == ["84-B1 362.17"]
    assert found(client, q="81??0") == ["81-AA 048.92"]
    assert sorted(found(client, q="81*")) == ["81-AA 048.92", "81-K5 3579"]
    assert len(found(client, q="*")) == len(SIGHTINGS)  # wildcards alone narrow nothing


def test_camera_area_and_time_narrow_the_search(
    client: TestClient, site: tuple[Path, StoredReads]
) -> None:
    login(client, "viewer")
    moments = site[1].moments
    assert found(client, camera="bai-xe") == ["81-K5 3579", "66-P1 895.75"]  # newest first
    assert found(client, area=AREA_DYKE) == ["84-B1 362.17"]
    assert found(client, area=AREA_MARKET, q="81") == ["81-K5 3579", "81-AA 048.92"]
    since, until = moments["66-P1 895.75"], moments["84-B1 362.17"]
    assert found(client, since=since, until=until) == ["84-B1 362.17", "66-P1 895.75"]
    assert found(client, until=moments["75-H1 357.92"] - 1) == ["81-AA 048.92"]
    assert client.get("/api/plates", params={"limit": 201}).status_code == 422


def test_pages_follow_the_moments_of_the_reads(
    client: TestClient, site: tuple[Path, StoredReads]
) -> None:
    """Ids are not in the order of the moments (a read is updated as its track is read
    again): paging by ``before_id`` still gives every read once, newest first."""
    login(client, "viewer")
    pages: list[list[str]] = []
    before: dict[str, int] = {}
    while True:
        reads = client.get("/api/plates", params={"limit": 2, **before}).json()
        if not reads:
            break
        pages.append([read["plate"] for read in reads])
        before = {"before_id": reads[-1]["id"]}
    newest_first = sorted(site[1].moments, key=lambda plate: -site[1].moments[plate])
    assert [plate for page in pages for plate in page] == newest_first
    assert [len(page) for page in pages] == [2, 2, 1]


def test_a_user_of_one_area_sees_only_its_reads_and_pictures(
    client: TestClient, site: tuple[Path, StoredReads]
) -> None:
    database, stored = site
    login(client, "dyke-viewer")
    assert found(client) == ["84-B1 362.17"]
    assert found(client, q="75H1") == []
    assert found(client, camera="cho-gom") == []  # another area's camera: nothing, as alerts
    assert found(client, area=AREA_MARKET) == []
    market_read = stored.ids["75-H1 357.92"]
    assert client.get(f"/api/plates/{market_read}/crop.jpg").status_code == 404
    own = client.get(f"/api/plates/{stored.ids['84-B1 362.17']}/crop.jpg")
    assert own.status_code == 200
    assert own.headers["content-type"] == "image/jpeg"
    assert own.headers["cache-control"] == "no-store"
    assert own.content == plate_crops()["84-B1 362.17"]
    views = audit_rows(database, "footage.picture")
    expected = {"plate_read": stored.ids["84-B1 362.17"], "picture": "plate"}
    assert views == [("dyke-viewer", "de-song", expected)]  # the refused one is not a view
    client.get(f"/api/plates/{stored.ids['84-B1 362.17']}/crop.jpg")
    assert len(audit_rows(database, "footage.picture")) == 1  # one row per few minutes


# --- the watch list --------------------------------------------------------------------------


def test_operators_change_the_watch_list_and_each_change_is_audited(
    client: TestClient, site: tuple[Path, StoredReads]
) -> None:
    database = site[0]
    csrf = {"X-CSRF-Token": login(client, "operator")}
    added = client.post(
        "/api/plates/watch", json={"pattern": " 29b1* ", "note": "Xe máy mất trộm"}, headers=csrf
    )
    assert added.status_code == 201, added.text
    entry = added.json()
    assert (entry["pattern"], entry["note"], entry["added_by"]) == (
        "29B1*",
        "Xe máy mất trộm",
        "operator",
    )
    facts = {"pattern": "29B1*", "note": "Xe máy mất trộm"}
    assert audit_rows(database, "plate_watch.add")[-1] == ("operator", "29B1*", facts)

    again = client.post("/api/plates/watch", json={"pattern": "29-B1 *"}, headers=csrf)
    assert again.status_code == 409
    assert again.json()["detail"]["code"] == "listed"
    assert len(audit_rows(database, "plate_watch.add")) == 2  # the admin's entry and this one

    viewer_csrf = {"X-CSRF-Token": login(client, "viewer")}  # reads the list, cannot change it
    listed = client.get("/api/plates/watch").json()
    assert [item["pattern"] for item in listed] == ["29B1*", WATCHED]
    refused = client.post("/api/plates/watch", json={"pattern": "30A*"}, headers=viewer_csrf)
    assert refused.status_code == 403
    gone = client.delete(f"/api/plates/watch/{entry['id']}", headers=viewer_csrf)
    assert gone.status_code == 403

    csrf = {"X-CSRF-Token": login(client, "admin")}
    assert client.delete(f"/api/plates/watch/{entry['id']}", headers=csrf).status_code == 204
    assert audit_rows(database, "plate_watch.remove") == [("admin", "29B1*", facts)]
    assert client.delete(f"/api/plates/watch/{entry['id']}", headers=csrf).status_code == 404
    assert [item["pattern"] for item in client.get("/api/plates/watch").json()] == [WATCHED]


@pytest.mark.parametrize(
    ("pattern", "code", "says"),
    [
        ("29B1#", "characters", "'#'"),
        ("29Đ1*", "characters", "'Đ'"),
        ("*", "too_short", "fewer than two letters or digits"),
        ("2 ?", "too_short", "fewer than two letters or digits"),
        ("29-B1 123.45 678.90 1", "too_long", "longer than 20 characters"),
    ],
)
def test_a_pattern_that_is_no_plate_is_refused_naming_the_problem(
    client: TestClient, site: tuple[Path, StoredReads], pattern: str, code: str, says: str
) -> None:
    csrf = {"X-CSRF-Token": login(client, "operator")}
    refused = client.post("/api/plates/watch", json={"pattern": pattern}, headers=csrf)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["code"] == code
    assert says in detail["message"]
    assert audit_rows(site[0], "plate_watch.add") == [
        ("admin", WATCHED, {"pattern": WATCHED, "note": "Xe bị truy tìm"})
    ]


# --- the plate on alert cards --------------------------------------------------------------


def test_alerts_carry_the_plate_of_their_vehicle(
    client: TestClient, site: tuple[Path, StoredReads]
) -> None:
    stored = site[1]
    login(client, "viewer")
    alerts = {alert["id"]: alert for alert in client.get("/api/alerts").json()}
    watch = alerts[stored.watch_alert]
    assert stored.finding not in alerts  # a job's finding, with a watch-listed plate
    assert (watch["kind"], watch["rule"], watch["plate"]) == (
        "plate_watch",
        WATCHED,
        "84-B1 362.17",
    )
    assert alerts[stored.vehicle_alert]["plate"] == "75-H1 357.92"
    others = set(alerts) - {stored.watch_alert, stored.vehicle_alert}
    assert others
    assert all(alerts[other]["plate"] is None for other in others)
    (read,) = client.get("/api/plates", params={"q": "84B1"}).json()
    assert (read["watch_entry"], read["alert_id"]) == (WATCHED, stored.watch_alert)


# --- the page, in Chromium -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Served:
    base_url: str
    database: Path
    footage: MarketFootage
    reads: StoredReads


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The dashboard in uvicorn on a store with the reads, the market camera's read made
    inside its recorded segment (so that its replay link has footage to play)."""
    database = tmp_path / "site.db"
    fill_store(database, alerts_per_camera=1)
    footage = add_market_footage(database)
    reads = add_reads(database, time.time(), market_at=footage.start + 2.5)
    port = free_port()
    app = create_app(site_for(database), database)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 20)
        yield Served(f"http://127.0.0.1:{port}", database, footage, reads)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def is_error(message: ConsoleMessage) -> bool:
    """A script error or CSP violation (failed requests are checked by their status)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_the_plates_page_searches_replays_and_keeps_the_watch_list(served: Served) -> None:
    errors: list[str] = []

    def failed(response: Response) -> None:
        refused_on_purpose = response.status == 422 and response.url.endswith("/api/plates/watch")
        if response.status >= 400 and not refused_on_purpose:
            errors.append(f"{response.status} {response.url}")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if is_error(m) else None)
        page.on("response", failed)
        log_in(page, served.base_url, "operator", "/plates")
        vietnamese_search_and_watch(page, served)
        replay_opens_at_the_moment(page, served)
        english_and_removal(page, served)
        browser.close()
    assert errors == []
    rows = audit_rows(served.database, "plate_watch.add")
    assert rows[-1] == ("operator", "29B1*", {"pattern": "29B1*", "note": "Xe máy mất trộm"})
    assert audit_rows(served.database, "plate_watch.remove")[-1][:2] == ("operator", "29B1*")


def vietnamese_search_and_watch(page: Page, served: Served) -> None:
    expect(page.locator("#plates .plate-read")).to_have_count(len(SIGHTINGS) + 1)  # + market's
    expect(page.locator("header nav a.active")).to_have_text("Biển số")
    page.fill("#p-text", "75H1")
    page.click("#p-submit")
    card = page.locator("#plates .plate-read")
    expect(card).to_have_count(1)
    expect(card.locator(".plate")).to_have_text("75-H1 357.92")
    picture = card.locator("img")
    expect(picture).to_have_js_property("complete", True)
    assert picture.evaluate("img => img.naturalWidth") > 20  # the real crop was drawn
    at = served.reads.moments["75-H1 357.92"]
    expect(card.locator(".time")).to_have_text(page.evaluate(FORMAT_TIME, at))

    page.fill("#w-pattern", "29B1#")
    page.click("#w-add")
    expect(page.locator("#watch-error")).to_contain_text("ký tự không dùng trên biển số: #")
    page.fill("#w-pattern", "29b1*")
    page.fill("#w-note", "Xe máy mất trộm")
    page.click("#w-add")
    expect(page.locator("#watch tr")).to_have_count(2)
    expect(page.locator("#watch tr").first).to_contain_text("29B1*")
    expect(page.locator("#watch-error")).to_be_hidden()
    page.fill("#p-text", "")
    page.click("#p-submit")
    expect(page.locator("#plates .plate-read.hit .watch-hit")).to_contain_text(WATCHED)
    page.screenshot(path=str(ARTIFACTS / "vi-plates.png"), full_page=True)
    assert english_leaks(page) == []
    page.fill("#p-text", "75H1")
    page.click("#p-submit")
    expect(page.locator("#plates .plate-read")).to_have_count(1)


def replay_opens_at_the_moment(page: Page, served: Served) -> None:
    """The result's link opens the camera page, whose replay plays the read's moment."""
    at = served.reads.moments["75-H1 357.92"]
    assert served.footage.start < at < served.footage.end
    page.locator("#plates .plate-read .replay-link").click()
    page.wait_for_url(f"{served.base_url}/cameras/{MARKET_CAMERA}?at={int(at)}")
    expect(page.locator("#replay-at")).to_have_text(page.evaluate(FORMAT_TIME, int(at)))
    video = page.locator("#replay-video")
    expect(video).to_have_attribute("src", f"/api/recordings/{served.footage.segment_id}/video.mp4")
    expect(page.locator("#timeline-moment")).to_be_attached()
    page.wait_for_function(
        "at => { const v = document.getElementById('replay-video');"
        " return v.readyState >= 1 && Math.abs(v.currentTime - at) < 0.6; }",
        arg=int(at) - served.footage.start,
    )
    page.screenshot(path=str(ARTIFACTS / "vi-camera-replay-at.png"))
    assert english_leaks(page) == []
    page.goto(f"{served.base_url}/")  # the alert cards show the plate of their vehicle
    badge = page.locator(f'#alerts [data-alert-id="{served.reads.watch_alert}"] .plate')
    expect(badge).to_have_text("84-B1 362.17")
    watch_card = page.locator(f'#alerts [data-alert-id="{served.reads.watch_alert}"]')
    expect(watch_card).to_contain_text("Biển số trong danh sách theo dõi")
    expect(watch_card).to_contain_text(f"Mẫu theo dõi: {WATCHED}")
    page.screenshot(path=str(ARTIFACTS / "vi-alerts-plates.png"))
    assert english_leaks(page) == []


def english_and_removal(page: Page, served: Served) -> None:
    page.goto(f"{served.base_url}/plates?q=84-B1")
    expect(page.locator("#plates .plate-read")).to_have_count(1)
    page.click("#lang-toggle")
    expect(page.locator("#plate-search h2")).to_have_text("Search plates")
    expect(page.locator("#plates .watch-hit")).to_contain_text("On the watch list")
    expect(page.locator("#watch-section h2")).to_have_text("Watch list")
    page.screenshot(path=str(ARTIFACTS / "en-plates.png"), full_page=True)
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.locator('#watch tr:has-text("29B1*") .remove').click()
    expect(page.locator("#watch tr")).to_have_count(1)
    assert asked == ["Remove 29B1* from the watch list?"]
    page.goto(f"{served.base_url}/")
    card = page.locator(f'#alerts [data-alert-id="{served.reads.watch_alert}"]')
    expect(card).to_contain_text("Watch-list plate")
    page.click("#logout")
    page.wait_for_url(f"{served.base_url}/login")
    log_in(page, served.base_url, "viewer", "/plates")  # a viewer reads the list only
    expect(page.locator("#watch tr")).to_have_count(1)
    expect(page.locator("#watch-readonly")).to_be_visible()
    expect(page.locator("#watch-form")).to_be_hidden()
    expect(page.locator("#watch .remove")).to_have_count(0)
    assert english_leaks(page) == []
