"""The operator's side of investigation search: the sightings API over the real app on a real
store, and the search page in real Chromium (Vietnamese and English).

The store holds what the detection core keeps: the PETS 2009 crossroads clip's first
:data:`RECORDED_S` seconds run through the real model and tracker
(:mod:`tests.pets_sightings`), every ended track's best sighting kept as the market camera's,
whose recording of those very seconds is in the store too (so a result's replay link has
footage to play), and again as the dyke camera's an hour earlier (the same people seen by
another camera of another area). The woman in the red jacket is the one to find.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Response, expect, sync_playwright

from common import recordings, sightings
from common.config import CameraConfig, SiteConfig
from common.sightings import SightingQuery
from common.store import Store
from dashboard.app import create_app
from detect.appearance import COLOURS, colour_shares, dominant
from tests.area_footage import site_for
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.dashboard_site import AREA_DYKE, AREA_MARKET, copy_store, fill_store, login
from tests.pets_sightings import CLIP, RED_WOMAN_S, analyse_pets, keep_sightings, pipeline_site
from tests.test_dashboard_i18n import english_leaks, log_in
from tests.test_plates_page import is_error
from tests.video_files import cut_clip

MARKET, DYKE = "cho-gom", "de-song"
RECORDED_S = 80.0
"""The clip's seconds recorded and analysed: the woman in red is in view from 33 s."""
DYKE_SHIFT_S = -3600.0
"""The dyke camera saw the same people an hour before the market camera."""


@dataclass(frozen=True, slots=True)
class SearchSite:
    """A filled store: the market's recording and both cameras' sightings."""

    database: Path
    start: float
    """The wall time of the clip's first frame (and of the recording's start)."""
    end: float
    segment_id: int
    market_ids: tuple[int, ...]
    dyke_ids: tuple[int, ...]
    red_woman: int
    """The market sighting a "person, red" search must give first."""
    red_woman_dyke: int
    """The same track's sighting as the dyke camera's."""


ZONE = "toan-canh"
"""The cameras' zone (the dashboard tests' ``all``, renamed: zone names show on the page, and
an English word there would count as English on the Vietnamese page)."""
# A time as the pages write it (the page's own module: the site's zone is set in it).
FORMAT_TIME = "(at) => import('/static/lib/time.js').then((m) => m.formatTime(at))"


def search_site(database: Path) -> SiteConfig:
    """The dashboard tests' site (:func:`tests.area_footage.site_for`), its zone renamed."""
    site = site_for(database)
    cameras = []
    for camera in site.cameras:
        zones = [zone.model_copy(update={"name": ZONE}) for zone in camera.zones]
        rules = [rule.model_copy(update={"zone": ZONE}) for rule in camera.rules]
        cameras.append(camera.model_copy(update={"zones": zones, "rules": rules}))
    return site.model_copy(update={"cameras": cameras})


def camera_of(site: SiteConfig, camera_id: str) -> CameraConfig:
    return next(camera for camera in site.cameras if camera.id == camera_id)


def fill_sightings(database: Path) -> SearchSite:
    """Record the clip's first seconds as the market camera's footage of ten minutes ago and
    keep the sightings the pipeline finds in them (see the module's docstring)."""
    segment = cut_clip(CLIP, database.parent / "cho-gom-pets.mp4", RECORDED_S)
    with av.open(str(segment)) as container:
        assert container.duration is not None
        duration = container.duration / av.time_base
    start = float(int(time.time()) - 600)
    site = search_site(database)
    market, dyke = camera_of(site, MARKET), camera_of(site, DYKE)
    store = Store(database)
    try:
        size = segment.stat().st_size
        segment_id = recordings.add_segment(
            store, MARKET, start=start, end=start + duration, path=str(segment), size=size
        )
        tracks = analyse_pets(pipeline_site(market), start, store, seconds=RECORDED_S)
        market_ids = keep_sightings(store, tracks, market)
        dyke_ids = keep_sightings(store, tracks, dyke, shift_s=DYKE_SHIFT_S)
        query = SightingQuery(class_name="person", colour="red", cameras=(MARKET,), limit=1)
        (red_woman,) = sightings.search(store, query)
    finally:
        store.close()
    return SearchSite(
        database=database,
        start=start,
        end=start + duration,
        segment_id=segment_id,
        market_ids=tuple(market_ids),
        dyke_ids=tuple(dyke_ids),
        red_woman=red_woman.id,
        red_woman_dyke=dyke_ids[market_ids.index(red_woman.id)],
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> SearchSite:
    database = tmp_path_factory.mktemp("search") / "site.db"
    fill_store(database, alerts_per_camera=1)
    return fill_sightings(database)


@pytest.fixture
def client(template: SearchSite, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    database = copy_store(template.database, tmp_path)
    with TestClient(create_app(search_site(database), database)) as test_client:
        yield test_client, database


Json = dict[str, Any]


def found(client: TestClient, path: str = "/api/sightings", **query: str | float) -> list[Json]:
    """The sightings ``path`` answers (200 checked), at most 200."""
    response = client.get(path, params={"limit": 200, **query})
    assert response.status_code == 200, response.text
    results: list[Json] = response.json()
    return results


def ids(results: list[Json]) -> list[int]:
    return [int(result["id"]) for result in results]


# --- the search ----------------------------------------------------------------------------


def test_person_in_red_comes_first_and_her_link_replays_her_moment(
    client: tuple[TestClient, Path], template: SearchSite
) -> None:
    test_client = client[0]
    login(test_client, "viewer")
    people = found(test_client, class_name="person")
    red = found(test_client, class_name="person", colour="red")
    assert 0 < len(red) < len(people) / 2, "a colour search narrows the people down"
    her = red[0]
    assert her["id"] == template.red_woman
    assert (her["camera_id"], her["camera_name"], her["area"]) == (MARKET, "Chợ Gốm", AREA_MARKET)
    assert "red" in [colour["name"] for colour in her["colours"]], her["colours"]
    shares = [next(c["share"] for c in result["colours"] if c["name"] == "red") for result in red]
    assert shares == sorted(shares, reverse=True)
    assert RED_WOMAN_S[0] <= her["best_at"] - template.start <= RED_WOMAN_S[1], her
    assert her["first_seen"] <= her["best_at"] <= her["last_seen"]
    assert her["score"] is None

    moment = int(her["best_at"])
    assert her["replay_url"] == f"/cameras/{MARKET}?at={moment}"
    assert 0 <= her["best_at"] - moment < 2
    assert template.start <= moment < template.end, "the replay has her moment recorded"
    assert her["crop_url"] == f"/api/sightings/{her['id']}/crop.jpg"
    picture = test_client.get(her["crop_url"])
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["cache-control"] == "no-store"
    image = cv2.imdecode(np.frombuffer(picture.content, np.uint8), cv2.IMREAD_COLOR)
    assert "red" in dominant(colour_shares(np.asarray(image, np.uint8)))


def test_class_colour_zone_time_camera_and_area_narrow_the_search(
    client: tuple[TestClient, Path], template: SearchSite
) -> None:
    test_client = client[0]
    login(test_client, "viewer")
    everything = found(test_client)
    assert set(ids(everything)) == set(template.market_ids) | set(template.dyke_ids)
    times = [result["best_at"] for result in everything]
    assert times == sorted(times, reverse=True), "newest first without a colour"
    assert found(test_client, class_name="car") == []
    assert len(found(test_client, class_name="person")) == len(everything)
    for colour in ("red", "black"):
        coloured = found(test_client, colour=colour)
        assert coloured
        assert all(colour in [c["name"] for c in result["colours"]] for result in coloured)
    assert test_client.get("/api/sightings", params={"colour": "crimson"}).status_code == 422
    assert test_client.get("/api/sightings", params={"limit": 201}).status_code == 422

    zoned = found(test_client, zone=ZONE, camera=MARKET)
    assert 0 < len(zoned) < len(template.market_ids)
    assert all(result["zones"] == [ZONE] for result in zoned)
    assert found(test_client, zone="no-such-zone") == []

    since, until = template.start + 20, template.start + 40
    window = found(test_client, since=since, until=until)
    assert 0 < len(window) < len(template.market_ids)
    assert all(r["last_seen"] >= since and r["first_seen"] <= until for r in window)
    assert set(ids(window)) <= set(template.market_ids), "the dyke's were an hour before"

    assert set(ids(found(test_client, camera=DYKE))) == set(template.dyke_ids)
    assert set(ids(found(test_client, area=AREA_MARKET))) == set(template.market_ids)
    assert found(test_client, camera="bai-xe") == []


def test_more_like_this_ranks_her_across_cameras_first(
    client: tuple[TestClient, Path], template: SearchSite
) -> None:
    test_client = client[0]
    login(test_client, "viewer")
    alike = found(test_client, f"/api/sightings/{template.red_woman}/similar")
    assert template.red_woman not in ids(alike), "the asked sighting is left out"
    assert alike[0]["id"] == template.red_woman_dyke, "the same person on the dyke camera"
    assert alike[0]["camera_id"] == DYKE
    assert alike[0]["score"] == pytest.approx(1.0, abs=1e-3)
    scores = [result["score"] for result in alike]
    assert scores == sorted(scores, reverse=True)
    market = found(test_client, f"/api/sightings/{template.red_woman}/similar", area=AREA_MARKET)
    assert {result["camera_id"] for result in market} == {MARKET}
    assert "red" in [c["name"] for c in market[0]["colours"]], market[0]
    assert "red" not in [c["name"] for c in market[-1]["colours"]], market[-1]
    assert len(found(test_client, f"/api/sightings/{template.red_woman}/similar", limit=3)) == 3
    assert test_client.get("/api/sightings/999999/similar").status_code == 404


def audit_rows(database: Path, action: str) -> list[tuple[str, str, dict[str, object]]]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT actor, target, detail FROM audit_log WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    return [(actor, target, json.loads(detail)) for actor, target, detail in rows]


def test_a_user_of_one_area_sees_only_its_sightings(
    client: tuple[TestClient, Path], template: SearchSite
) -> None:
    test_client, database = client
    login(test_client, "dyke-viewer")
    assert set(ids(found(test_client))) == set(template.dyke_ids)
    assert found(test_client, camera=MARKET) == []  # another area's camera: nothing, as alerts
    assert found(test_client, area=AREA_MARKET) == []
    assert ids(found(test_client, class_name="person", colour="red"))[0] == template.red_woman_dyke
    market = template.red_woman
    assert test_client.get(f"/api/sightings/{market}/crop.jpg").status_code == 404
    assert test_client.get(f"/api/sightings/{market}/similar").status_code == 404
    alike = found(test_client, f"/api/sightings/{template.red_woman_dyke}/similar")
    assert alike
    assert {result["camera_id"] for result in alike} == {DYKE}

    own = test_client.get(f"/api/sightings/{template.red_woman_dyke}/crop.jpg")
    assert own.status_code == 200
    expected = {"sighting": template.red_woman_dyke, "picture": "sighting"}
    assert audit_rows(database, "footage.picture") == [("dyke-viewer", DYKE, expected)]
    test_client.get(f"/api/sightings/{template.red_woman_dyke}/crop.jpg")
    assert len(audit_rows(database, "footage.picture")) == 1  # one row per few minutes

    options = test_client.get("/api/sightings/options").json()
    assert options["cameras"] == [
        {"id": DYKE, "name": "Đê sông Hồng", "area": AREA_DYKE, "zones": [ZONE]}
    ]
    assert options["areas"] == [AREA_DYKE]
    assert options["zones"] == [ZONE]
    assert options["colours"] == list(COLOURS)
    assert options["classes"][0] == "person"


# --- the page, in Chromium -------------------------------------------------------------------


@pytest.fixture
def served(template: SearchSite, tmp_path: Path) -> Iterator[str]:
    """The dashboard in uvicorn on a copy of the store."""
    database = copy_store(template.database, tmp_path)
    port = free_port()
    app = create_app(search_site(database), database)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 20)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_the_search_page_finds_her_replays_her_and_finds_her_again(
    served: str, template: SearchSite
) -> None:
    errors: list[str] = []

    def failed(response: Response) -> None:
        if response.status >= 400:
            errors.append(f"{response.status} {response.url}")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if is_error(m) else None)
        page.on("response", failed)
        log_in(page, served, "viewer", "/search")
        search_person_in_red(page, template, "vi")
        more_like_this(page, template, "vi")
        replay_opens_at_her_moment(page, served, template)
        page.goto(f"{served}/search")
        page.click("#lang-toggle")
        expect(page.locator("#sighting-search h2")).to_have_text(
            "Find people and vehicles the cameras saw"
        )
        search_person_in_red(page, template, "en")
        more_like_this(page, template, "en")
        browser.close()
    assert errors == []


def search_person_in_red(page: Page, template: SearchSite, language: str) -> None:
    expect(page.locator("header nav a.active")).to_have_text(
        "Tìm kiếm" if language == "vi" else "Search"
    )
    expect(page.locator("#sightings .sighting").first).to_be_visible()  # newest first
    page.select_option("#s-class", "person")
    page.check('#s-colours input[value="red"]')
    page.click("#s-submit")
    first = page.locator("#sightings .sighting").first
    expect(first).to_have_attribute("data-sighting-id", str(template.red_woman))
    expect(page.locator("#similar-bar")).to_be_hidden()
    red_chip = first.locator('.colour-chip[data-colour="red"]')
    expect(red_chip).to_contain_text("đỏ" if language == "vi" else "red")
    picture = first.locator("img")
    expect(picture).to_have_js_property("complete", True)
    assert picture.evaluate("img => img.naturalWidth") > 20  # the real crop was drawn
    moment = page.evaluate(FORMAT_TIME, template_best_at(template))
    expect(first.locator(".time")).to_have_text(moment)
    swatch = page.locator("#s-colours .swatch-red").evaluate(
        "node => getComputedStyle(node).backgroundColor"
    )
    assert swatch == "rgb(211, 47, 47)", "the swatch is coloured by its class, not inline"
    page.screenshot(path=str(ARTIFACTS / f"{language}-search.png"), full_page=True)
    if language == "vi":
        assert english_leaks(page) == []


def more_like_this(page: Page, template: SearchSite, language: str) -> None:
    page.locator("#sightings .sighting").first.locator(".more-like").click()
    expect(page.locator("#similar-bar")).to_be_visible()
    first = page.locator("#sightings .sighting").first
    expect(first).to_have_attribute("data-sighting-id", str(template.red_woman_dyke))
    expect(first.locator(".score")).to_contain_text("100%")
    expect(page.locator(f'#sightings [data-sighting-id="{template.red_woman}"]')).to_have_count(0)
    assert page.locator("#sightings .sighting .score").count() > 3
    page.screenshot(path=str(ARTIFACTS / f"{language}-search-similar.png"), full_page=True)
    if language == "vi":
        assert english_leaks(page) == []
    page.click("#similar-back")
    expect(page.locator("#similar-bar")).to_be_hidden()
    expect(page.locator("#sightings .sighting").first).to_have_attribute(
        "data-sighting-id", str(template.red_woman)
    )


def template_best_at(template: SearchSite) -> float:
    store = Store(template.database)
    try:
        found_sighting = sightings.sighting(store, template.red_woman)
    finally:
        store.close()
    assert found_sighting is not None
    return found_sighting.best_at


def replay_opens_at_her_moment(page: Page, served: str, template: SearchSite) -> None:
    """Her crop opens the market camera's page, whose replay plays her moment (within 2 s)."""
    best_at = template_best_at(template)
    moment = int(best_at)
    page.locator("#sightings .sighting").first.locator(".sighting-picture").click()
    page.wait_for_url(f"{served}/cameras/{MARKET}?at={moment}")
    expect(page.locator("#replay-at")).to_have_text(page.evaluate(FORMAT_TIME, moment))
    video = page.locator("#replay-video")
    expect(video).to_have_attribute("src", f"/api/recordings/{template.segment_id}/video.mp4")
    page.wait_for_function(
        "at => { const v = document.getElementById('replay-video');"
        " return v.readyState >= 1 && Math.abs(v.currentTime - at) < 2; }",
        arg=best_at - template.start,
    )
    assert english_leaks(page) == []
