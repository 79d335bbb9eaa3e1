"""Who may call what, over every route of the app.

:data:`ACCESS` classifies every route; the first test fails when a route is added without
a line here, so a new route (export, WebRTC offer...) cannot ship unguarded by accident.

Every expectation is one exact status: :data:`ALLOWED` says what a role that may call a
route gets (a 500 is never "allowed"). The store holds real market footage and jobs
(:mod:`tests.area_footage`), so ids lead to real things and a refusal means a refusal.
An operator of the dyke area asks every change route and every footage download for the
market's things and gets 404, while an operator of all areas gets the very same request
through (:data:`AREA_BOUND`), so the 404 comes from the area check and nothing else.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.responses import FileResponse, StreamingResponse
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from common.accounts import Accounts, Role
from common.store import Store
from dashboard.app import create_app
from tests.area_footage import MarketFootage, add_market_footage, site_for
from tests.case_footage import add_market_case
from tests.dashboard_site import AREA_DYKE, PASSWORD, copy_store, fill_store, login, site_config
from tests.video_files import encoded

PUBLIC, HEALTH, VIEWER, OPERATOR, ADMIN = "public", "health", "viewer", "operator", "admin"
PAGE = "page"  # a page for any logged-in user (redirects to the login page without one)
ADMIN_PAGE = "admin page"

ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/login"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/api/site"): PUBLIC,
    ("POST", "/api/login"): PUBLIC,
    ("GET", "/healthz"): HEALTH,
    ("GET", "/readyz"): HEALTH,
    ("GET", "/metrics"): ADMIN,  # or the scrape token (tests/test_transport.py)
    ("GET", "/"): PAGE,
    ("GET", "/cameras"): PAGE,
    ("GET", "/cameras/{camera_id}"): PAGE,
    ("GET", "/audit"): ADMIN_PAGE,
    ("GET", "/users"): ADMIN_PAGE,
    ("GET", "/reanalysis"): PAGE,
    ("POST", "/api/logout"): VIEWER,
    ("POST", "/api/logout-others"): VIEWER,
    ("GET", "/api/me"): VIEWER,
    ("PUT", "/api/me/language"): VIEWER,
    ("GET", "/api/alerts"): VIEWER,
    ("GET", "/api/alerts/{alert_id}/snapshot.jpg"): VIEWER,
    ("GET", "/api/alerts/{alert_id}/crop.jpg"): VIEWER,
    ("POST", "/api/alerts/{alert_id}/acknowledge"): OPERATOR,
    ("POST", "/api/alerts/{alert_id}/resolve"): OPERATOR,
    ("WS", "/ws/alerts"): VIEWER,
    ("WS", "/ws/cameras/{camera_id}/detections"): VIEWER,
    ("GET", "/api/cameras"): VIEWER,
    ("GET", "/api/cameras/{camera_id}"): VIEWER,
    ("GET", "/api/cameras/{camera_id}/thumbnail.jpg"): VIEWER,
    ("POST", "/api/cameras/{camera_id}/webrtc"): VIEWER,
    ("GET", "/api/cameras/{camera_id}/timeline"): VIEWER,
    ("GET", "/api/cameras/{camera_id}/playback"): VIEWER,
    ("GET", "/api/recordings/{segment_id}/video.mp4"): VIEWER,
    ("GET", "/api/alerts/{alert_id}/clip.mp4"): VIEWER,
    ("POST", "/api/exports"): OPERATOR,
    ("GET", "/api/exports/{export_id}/{name}"): OPERATOR,
    ("GET", "/api/exports/{export_id}.zip"): OPERATOR,
    ("GET", "/api/holds"): ADMIN,
    ("POST", "/api/holds"): ADMIN,
    ("POST", "/api/holds/{hold_id}/lift"): ADMIN,
    # Re-analysis: read like alerts (any role), queue/cancel/delete like acknowledging.
    ("GET", "/api/reanalysis/limits"): VIEWER,
    ("GET", "/api/reanalysis/jobs"): VIEWER,
    ("GET", "/api/reanalysis/jobs/{job_id}"): VIEWER,
    ("GET", "/api/reanalysis/alerts/{finding_id}/snapshot.jpg"): VIEWER,
    ("GET", "/api/reanalysis/alerts/{finding_id}/crop.jpg"): VIEWER,
    ("POST", "/api/reanalysis/jobs"): OPERATOR,
    ("POST", "/api/reanalysis/uploads"): OPERATOR,
    ("POST", "/api/reanalysis/jobs/{job_id}/cancel"): OPERATOR,
    ("DELETE", "/api/reanalysis/jobs/{job_id}"): OPERATOR,
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("PATCH", "/api/users/{username}"): ADMIN,
    ("GET", "/api/audit"): ADMIN,
    # Cases: read like alerts (any role, only cases all of whose cameras the user sees),
    # changed and exported like acknowledging (tests/test_cases.py).
    ("GET", "/cases"): PAGE,
    ("GET", "/api/cases"): VIEWER,
    ("POST", "/api/cases"): OPERATOR,
    ("GET", "/api/cases/{case_id}"): VIEWER,
    ("PATCH", "/api/cases/{case_id}"): OPERATOR,
    ("POST", "/api/cases/{case_id}/alerts/{alert_id}"): OPERATOR,
    ("DELETE", "/api/cases/{case_id}/alerts/{alert_id}"): OPERATOR,
    ("POST", "/api/cases/{case_id}/findings/{finding_id}"): OPERATOR,
    ("DELETE", "/api/cases/{case_id}/findings/{finding_id}"): OPERATOR,
    ("POST", "/api/cases/{case_id}/clips"): OPERATOR,
    ("DELETE", "/api/cases/{case_id}/clips/{clip_id}"): OPERATOR,
    ("POST", "/api/cases/{case_id}/notes"): OPERATOR,
    ("GET", "/api/cases/{case_id}/assignees"): OPERATOR,
    ("POST", "/api/cases/{case_id}/assign"): OPERATOR,
    ("POST", "/api/cases/{case_id}/exports"): OPERATOR,
    ("GET", "/api/cases/{case_id}/exports/{package_id}.zip"): OPERATOR,
    # Plates: searched and seen like alerts; the watch list read by all, changed by operators.
    ("GET", "/plates"): PAGE,
    ("GET", "/api/plates"): VIEWER,
    ("GET", "/api/plates/{read_id}/crop.jpg"): VIEWER,
    ("GET", "/api/plates/watch"): VIEWER,
    ("POST", "/api/plates/watch"): OPERATOR,
    ("DELETE", "/api/plates/watch/{entry_id}"): OPERATOR,
    # Investigation search: searched and seen like alerts (tests/test_search_page.py).
    ("GET", "/search"): PAGE,
    ("GET", "/api/sightings"): VIEWER,
    ("GET", "/api/sightings/options"): VIEWER,
    ("GET", "/api/sightings/{sighting_id}/similar"): VIEWER,
    ("GET", "/api/sightings/{sighting_id}/crop.jpg"): VIEWER,
    # Push to phones: every user manages their own browsers (tests/test_push.py).
    ("GET", "/sw.js"): PUBLIC,
    ("GET", "/notifications"): PAGE,
    ("GET", "/api/push/key"): VIEWER,
    ("GET", "/api/push/subscriptions"): VIEWER,
    ("PUT", "/api/push/subscription"): VIEWER,
    ("PATCH", "/api/push/subscriptions/{subscription_id}"): VIEWER,
    ("DELETE", "/api/push/subscriptions/{subscription_id}"): VIEWER,
    # The live wall: every user keeps their own layouts (tests/test_live_wall.py).
    ("GET", "/wall/live"): PAGE,
    ("GET", "/api/wall/layouts"): VIEWER,
    ("PUT", "/api/wall/layouts/{layout_name}"): VIEWER,
    ("DELETE", "/api/wall/layouts/{layout_name}"): VIEWER,
}
BODIES: dict[tuple[str, str], object] = {
    ("POST", "/api/login"): {"username": "viewer", "password": PASSWORD},
    ("PUT", "/api/me/language"): {"language": "en"},
    ("POST", "/api/alerts/{alert_id}/acknowledge"): {"note": "ok"},
    ("POST", "/api/alerts/{alert_id}/resolve"): {"note": "ok"},
    ("POST", "/api/cameras/{camera_id}/webrtc"): {"sdp": "v=0", "type": "offer"},
    ("POST", "/api/exports"): {"camera_ids": ["cho-gom"], "start": 1, "end": 2, "reason": "test"},
    ("POST", "/api/holds"): {"camera_id": "cho-gom", "start": 1, "end": 2, "reason": "test"},
    ("POST", "/api/holds/{hold_id}/lift"): {"reason": "test"},
    ("POST", "/api/reanalysis/jobs"): {"camera_id": "cho-gom", "start": 1, "end": 2},
    ("POST", "/api/users"): {"username": "new-user", "password": "long-enough-1", "role": "viewer"},
    ("PATCH", "/api/users/{username}"): {"areas": []},
    ("POST", "/api/cases"): {"title": "test"},
    ("PATCH", "/api/cases/{case_id}"): {"title": "test"},
    ("POST", "/api/cases/{case_id}/clips"): {"camera_id": "cho-gom", "start": 1, "end": 2},
    ("POST", "/api/cases/{case_id}/notes"): {"text": "test"},
    ("POST", "/api/cases/{case_id}/assign"): {"username": "operator", "note": "test"},
    ("POST", "/api/cases/{case_id}/exports"): {"reason": "test"},
    ("POST", "/api/plates/watch"): {"pattern": "29B1*", "note": "test"},
    ("PUT", "/api/push/subscription"): {
        "subscription": {
            "endpoint": "https://push.example.net/send/test",
            "keys": {
                "p256dh": "BIRwYkU1ZuVnpjvXtZWWxlPwZQTRJ4xsX6L0SttxSNR4ktNDHBPalmDlz5Fam0jY0t"
                "hamM3K3y--KIBqR2_5rMY",
                "auth": "AAECAwQFBgcICQoLDA0ODw",
            },
        },
        "filters": {"cameras": ["cho-gom"]},
    },
    ("PATCH", "/api/push/subscriptions/{subscription_id}"): {"min_severity": "critical"},
    ("PUT", "/api/wall/layouts/{layout_name}"): {
        "grid": 1,
        "tiles": [{"camera_id": "cho-gom", "pinned": False}],
        "pull_alerts": True,
    },
}
PARAMS = {
    "{alert_id}": "1",
    "{camera_id}": "cho-gom",
    "{username}": "viewer",
    "{job_id}": "1",
    "{finding_id}": "1",
    "{hold_id}": "1",
    "{case_id}": "1",  # the market's case (tests/case_footage.py), its clip and package
    "{clip_id}": "1",
    "{package_id}": "1",
    "{entry_id}": "1",
    "{subscription_id}": "1",  # the one the role's PUT made (PUT runs before PATCH, DELETE)
    "{layout_name}": "Chợ và đê",  # the one the role's PUT made (PUT runs before DELETE)
}
RANK = [VIEWER, OPERATOR, ADMIN]
DYKE_OPERATOR = "dyke-operator"
RAW_BODIES: dict[tuple[str, str], typing.Callable[[], tuple[bytes, dict[str, str]]]] = {
    ("POST", "/api/reanalysis/uploads"): lambda: (
        encoded("matroska", "mpeg4"),
        {"camera_id": "cho-gom", "filename": "clip.mkv"},
    ),
}
"""Routes whose body is not JSON: the raw body and the query parameters."""
QUERY: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/api/cameras/{camera_id}/timeline"): {"start": "{start}", "end": "{end}"},
    ("GET", "/api/cameras/{camera_id}/playback"): {"at": "{start}"},
}
"""Query parameters a route needs; ``{start}`` and ``{end}`` are the market's recording."""
ORDER = {"GET": 0, "WS": 1, "PUT": 2, "PATCH": 3, "POST": 4, "DELETE": 5}
"""Reads first, deletions last: every role reads the same store."""
ALLOWED: dict[tuple[str, str], int] = {
    ("GET", "/cases"): 200,
    ("GET", "/api/cases"): 200,
    ("POST", "/api/cases"): 201,
    ("GET", "/api/cases/{case_id}"): 200,
    ("PATCH", "/api/cases/{case_id}"): 200,
    ("POST", "/api/cases/{case_id}/alerts/{alert_id}"): 200,  # in the case already
    ("DELETE", "/api/cases/{case_id}/alerts/{alert_id}"): 200,
    ("POST", "/api/cases/{case_id}/findings/{finding_id}"): 200,
    ("DELETE", "/api/cases/{case_id}/findings/{finding_id}"): 200,
    ("POST", "/api/cases/{case_id}/clips"): 201,
    ("DELETE", "/api/cases/{case_id}/clips/{clip_id}"): 200,
    ("POST", "/api/cases/{case_id}/notes"): 201,
    ("GET", "/api/cases/{case_id}/assignees"): 200,
    ("POST", "/api/cases/{case_id}/assign"): 200,
    ("POST", "/api/cases/{case_id}/exports"): 202,
    ("GET", "/api/cases/{case_id}/exports/{package_id}.zip"): 200,
    ("DELETE", "/api/reanalysis/jobs/{job_id}"): 204,
    ("GET", "/"): 200,
    ("GET", "/api/alerts"): 200,
    ("GET", "/api/alerts/{alert_id}/clip.mp4"): 200,
    ("GET", "/api/alerts/{alert_id}/crop.jpg"): 200,
    ("GET", "/api/alerts/{alert_id}/snapshot.jpg"): 200,
    ("GET", "/api/audit"): 200,
    ("GET", "/api/cameras"): 200,
    ("GET", "/api/cameras/{camera_id}"): 200,
    ("GET", "/api/cameras/{camera_id}/playback"): 200,
    ("GET", "/api/cameras/{camera_id}/thumbnail.jpg"): 200,
    ("GET", "/api/cameras/{camera_id}/timeline"): 200,
    ("GET", "/api/exports/{export_id}.zip"): 200,
    ("GET", "/api/exports/{export_id}/{name}"): 200,
    ("GET", "/api/holds"): 200,
    ("GET", "/api/me"): 200,
    ("GET", "/api/reanalysis/alerts/{finding_id}/crop.jpg"): 200,
    ("GET", "/api/reanalysis/alerts/{finding_id}/snapshot.jpg"): 200,
    ("GET", "/api/reanalysis/jobs"): 200,
    ("GET", "/api/reanalysis/jobs/{job_id}"): 200,
    ("GET", "/api/reanalysis/limits"): 200,
    ("GET", "/api/recordings/{segment_id}/video.mp4"): 200,
    ("GET", "/api/site"): 200,
    ("GET", "/api/users"): 200,
    ("GET", "/plates"): 200,
    ("GET", "/api/plates"): 200,
    ("GET", "/api/plates/{read_id}/crop.jpg"): 200,
    ("GET", "/api/plates/watch"): 200,
    ("POST", "/api/plates/watch"): 201,
    ("DELETE", "/api/plates/watch/{entry_id}"): 204,
    ("GET", "/search"): 200,
    ("GET", "/api/sightings"): 200,
    ("GET", "/api/sightings/options"): 200,
    ("GET", "/api/sightings/{sighting_id}/similar"): 200,
    ("GET", "/api/sightings/{sighting_id}/crop.jpg"): 200,
    ("GET", "/audit"): 200,
    ("GET", "/cameras"): 200,
    ("GET", "/cameras/{camera_id}"): 200,
    ("GET", "/favicon.ico"): 200,
    ("GET", "/healthz"): 200,
    ("GET", "/login"): 200,
    ("GET", "/metrics"): 200,
    ("GET", "/readyz"): 503,  # no ingest or detection role runs in this test
    ("GET", "/reanalysis"): 200,
    ("GET", "/users"): 200,
    ("PATCH", "/api/users/{username}"): 200,
    ("POST", "/api/alerts/{alert_id}/acknowledge"): 200,
    ("POST", "/api/alerts/{alert_id}/resolve"): 200,
    ("POST", "/api/cameras/{camera_id}/webrtc"): 422,  # the offer "v=0" has no H.264
    ("POST", "/api/exports"): 201,
    ("POST", "/api/holds"): 201,
    ("POST", "/api/holds/{hold_id}/lift"): 200,
    ("POST", "/api/login"): 200,
    ("POST", "/api/logout"): 204,
    ("POST", "/api/logout-others"): 200,
    ("POST", "/api/reanalysis/jobs"): 201,
    ("POST", "/api/reanalysis/jobs/{job_id}/cancel"): 200,
    ("POST", "/api/reanalysis/uploads"): 201,
    ("POST", "/api/users"): 201,
    ("PUT", "/api/me/language"): 204,
    ("WS", "/ws/alerts"): 101,
    ("WS", "/ws/cameras/{camera_id}/detections"): 101,
    ("GET", "/sw.js"): 200,
    ("GET", "/notifications"): 200,
    ("GET", "/api/push/key"): 200,
    ("GET", "/api/push/subscriptions"): 200,
    ("PUT", "/api/push/subscription"): 200,
    ("PATCH", "/api/push/subscriptions/{subscription_id}"): 200,
    ("DELETE", "/api/push/subscriptions/{subscription_id}"): 204,
    ("GET", "/wall/live"): 200,
    ("GET", "/api/wall/layouts"): 200,
    ("PUT", "/api/wall/layouts/{layout_name}"): 200,
    ("DELETE", "/api/wall/layouts/{layout_name}"): 204,
}
"""The status a role that may call the route gets, routes called in :data:`ORDER` on a fresh
store with the market's footage (public and health routes: without a session)."""
AREA_BOUND: dict[tuple[str, str], int] = {
    ("PATCH", "/api/cases/{case_id}"): 200,
    ("POST", "/api/cases/{case_id}/alerts/{alert_id}"): 200,
    ("DELETE", "/api/cases/{case_id}/alerts/{alert_id}"): 200,
    ("POST", "/api/cases/{case_id}/findings/{finding_id}"): 200,
    ("DELETE", "/api/cases/{case_id}/findings/{finding_id}"): 200,
    ("POST", "/api/cases/{case_id}/clips"): 201,
    ("DELETE", "/api/cases/{case_id}/clips/{clip_id}"): 200,
    ("POST", "/api/cases/{case_id}/notes"): 201,
    ("POST", "/api/cases/{case_id}/assign"): 200,
    ("POST", "/api/cases/{case_id}/exports"): 202,
    ("GET", "/api/cases/{case_id}/exports/{package_id}.zip"): 200,
    ("POST", "/api/alerts/{alert_id}/acknowledge"): 200,
    ("POST", "/api/alerts/{alert_id}/resolve"): 200,
    ("POST", "/api/cameras/{camera_id}/webrtc"): 422,  # the offer "v=0" has no H.264
    ("POST", "/api/exports"): 201,
    ("POST", "/api/reanalysis/jobs"): 201,
    ("POST", "/api/reanalysis/uploads"): 201,
    ("POST", "/api/reanalysis/jobs/{job_id}/cancel"): 200,
    ("DELETE", "/api/reanalysis/jobs/{job_id}"): 204,
    ("GET", "/api/recordings/{segment_id}/video.mp4"): 200,
    ("GET", "/api/alerts/{alert_id}/clip.mp4"): 200,
    ("GET", "/api/exports/{export_id}/{name}"): 200,
    ("GET", "/api/exports/{export_id}.zip"): 200,
    ("PUT", "/api/push/subscription"): 200,  # its filters name the market's camera
    ("PUT", "/api/wall/layouts/{layout_name}"): 200,  # its tile shows the market's camera
}
"""Every change route and footage download about a camera, with what an operator of all
areas gets when asking for the market's things (one call on a fresh store); an operator of
the dyke area gets 404 for the same request."""
ADMINS_ONLY = "admins only, and an admin sees every area"
NOT_AREA_BOUND: dict[tuple[str, str], str] = {
    ("POST", "/api/cases"): "a new case holds no camera yet",
    ("POST", "/api/login"): "before a login there is no user to scope",
    ("POST", "/api/logout"): "ends the user's own session",
    ("POST", "/api/logout-others"): "ends the user's own other sessions",
    ("PUT", "/api/me/language"): "the user's own setting",
    ("POST", "/api/holds"): ADMINS_ONLY,
    ("POST", "/api/holds/{hold_id}/lift"): ADMINS_ONLY,
    ("POST", "/api/users"): ADMINS_ONLY,
    ("PATCH", "/api/users/{username}"): ADMINS_ONLY,
    ("POST", "/api/plates/watch"): "the watch list is the site's, not an area's",
    ("DELETE", "/api/plates/watch/{entry_id}"): "the watch list is the site's, not an area's",
    ("PATCH", "/api/push/subscriptions/{subscription_id}"): (
        "the user's own subscription; cameras and rules it names are checked like PUT's"
        " (tests/test_push.py)"
    ),
    ("DELETE", "/api/push/subscriptions/{subscription_id}"): "the user's own subscription",
    ("DELETE", "/api/wall/layouts/{layout_name}"): "the user's own layout",
}
"""Change routes about no camera, and why."""
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def app_routes(public_health: bool = True) -> set[tuple[str, str]]:
    """(method, path) of every route of the app; WebSockets as ``WS``; /static is a mount."""
    app = create_app(site_config(public_health=public_health), Path("unused.db"))
    found = set()
    for context in iter_route_contexts(app.routes):  # routes of included routers too
        route, path = context.original_route, context.path
        assert path is not None
        if isinstance(route, APIRoute):
            found |= {(method, path) for method in context.methods or ()}
        elif isinstance(route, APIWebSocketRoute):
            found.add(("WS", path))
        else:
            assert isinstance(route, Mount), route
            assert path == "/static"
    return found


def concrete(path: str, footage: MarketFootage | None = None, method: str = "GET") -> str:
    """``path`` with the market's real ids (a queued job for a cancel), else :data:`PARAMS`."""
    values = footage.path_values() if footage else {}
    if footage and path.endswith("/cancel"):
        values["job_id"] = str(footage.queued_job_id)
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    for name, value in PARAMS.items():
        path = path.replace(name, value)
    return path


def body_of(method: str, path: str, footage: MarketFootage | None) -> object:
    """The route's body from :data:`BODIES`; a time window in it is the market's recorded
    seconds 1 to 4, and a camera list the market camera."""
    body = BODIES.get((method, path))
    if footage and isinstance(body, dict) and {"start", "end"} <= body.keys():
        return body | {"start": footage.start + 1.0, "end": footage.start + 4.0}
    return body


def call(
    client: TestClient,
    method: str,
    path: str,
    csrf: str = "",
    footage: MarketFootage | None = None,
) -> int:
    """The status of one request (no redirects followed); a refused WebSocket is 403."""
    url = concrete(path, footage, method)
    if method == "WS":
        try:
            with client.websocket_connect(url):
                return 101
        except WebSocketDisconnect:
            return 403
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    window = {"start": str(footage.start + 1.0), "end": str(footage.end)} if footage else {}
    query = {key: value.format(**window) for key, value in QUERY.get((method, path), {}).items()}
    if (method, path) in RAW_BODIES:
        content, params = RAW_BODIES[(method, path)]()
        response = client.request(
            method, url, content=content, params=params, headers=headers, follow_redirects=False
        )
        return response.status_code
    response = client.request(
        method,
        url,
        json=body_of(method, path, footage),
        params=query,
        headers=headers,
        follow_redirects=False,
    )
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login?next=")
    return response.status_code


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The filled store plus an operator of the dyke area only."""
    path = tmp_path_factory.mktemp("access") / "site.db"
    fill_store(path)
    store = Store(path)
    try:
        Accounts(store).add_user(
            DYKE_OPERATOR, PASSWORD, Role.OPERATOR, actor="test", areas=(AREA_DYKE,)
        )
    finally:
        store.close()
    return path


@pytest.fixture
def database(template: Path, tmp_path: Path) -> Path:
    """A private copy of the store, for requests that change it."""
    return copy_store(template, tmp_path)


@pytest.fixture
def footage(database: Path) -> MarketFootage:
    found = add_market_footage(database)
    add_market_case(database, found)  # case 1, with clip 1 and package 1 (see PARAMS)
    return found


@pytest.fixture
def client(database: Path, footage: MarketFootage) -> Iterator[TestClient]:
    with TestClient(create_app(site_for(database), database)) as test_client:
        yield test_client


def test_every_route_is_classified() -> None:
    assert app_routes() == set(ACCESS)


def test_every_route_has_its_allowed_status() -> None:
    assert set(ALLOWED) == set(ACCESS)


@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_without_a_session(
    client: TestClient, footage: MarketFootage, method: str, path: str
) -> None:
    """401 for the API, the login page for pages, a refused WebSocket; public stays open."""
    status = call(client, method, path, footage=footage)
    access = ACCESS[(method, path)]
    if access in (PUBLIC, HEALTH):
        assert status == ALLOWED[(method, path)]
    elif access in (PAGE, ADMIN_PAGE):
        assert status == 303
    elif method == "WS":
        assert status == 403
    else:
        assert status == 401


@pytest.mark.parametrize("role", RANK)
def test_roles_below_what_a_route_needs_get_403(
    client: TestClient, footage: MarketFootage, role: str
) -> None:
    """A viewer cannot acknowledge or manage users; an operator cannot manage users; an
    admin may do everything, and gets exactly what :data:`ALLOWED` says (each role on a
    fresh copy of the store, routes called in the same order)."""
    csrf = login(client, role)
    statuses = {}
    for method, path in sorted(ACCESS, key=in_order):
        if needed_rank((method, path)) in RANK:
            statuses[(method, path)] = call(client, method, path, csrf, footage)
    expected = {
        route: 403 if RANK.index(needed_rank(route)) > RANK.index(role) else ALLOWED[route]
        for route in statuses
    }
    assert statuses == expected


def in_order(route: tuple[str, str]) -> tuple[bool, int, str]:
    """:data:`ORDER`, and logging out after everything else."""
    return route == ("POST", "/api/logout"), ORDER[route[0]], route[1]


def needed_rank(route: tuple[str, str]) -> str:
    access = ACCESS[route]
    return VIEWER if access == PAGE else ADMIN if access == ADMIN_PAGE else access


def footage_routes() -> set[tuple[str, str]]:
    """Every GET route of the API that answers with a file (a recording, a clip, an export;
    the pages are files too, but hold no footage)."""
    app = create_app(site_config(), Path("unused.db"))
    found = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or "GET" not in (context.methods or ()):
            continue
        assert context.path is not None
        if not context.path.startswith("/api/"):
            continue
        answer = typing.get_type_hints(route.endpoint).get("return")
        if isinstance(answer, type) and issubclass(answer, (FileResponse, StreamingResponse)):
            found.add(("GET", context.path))
    return found


def test_every_change_and_download_is_classified_by_area() -> None:
    changes = {route for route in app_routes() if route[0] in CHANGES}
    downloads = footage_routes()
    assert downloads, "no footage route found: did their return annotations change?"
    assert changes | downloads == set(AREA_BOUND) | set(NOT_AREA_BOUND)
    assert not set(AREA_BOUND) & set(NOT_AREA_BOUND)


@pytest.mark.parametrize(("method", "path"), sorted(AREA_BOUND))
def test_an_operator_of_another_area_is_refused(
    client: TestClient, footage: MarketFootage, method: str, path: str
) -> None:
    """The dyke operator asks for the market's things: 404, as if they did not exist, and
    nothing changes; the same request of an operator of all areas goes through."""
    csrf = login(client, DYKE_OPERATOR)
    assert call(client, method, path, csrf, footage) == 404
    csrf = login(client, OPERATOR)
    assert call(client, method, path, csrf, footage) == AREA_BOUND[(method, path)]


def test_health_needs_a_session_when_not_public(database: Path) -> None:
    app = create_app(site_config(public_health=False), database)
    with TestClient(app) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert client.get(path).status_code == 401
        login(client, VIEWER)
        assert client.get("/healthz").status_code == 200


def test_no_schema_or_docs_are_served(client: TestClient) -> None:
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(path, follow_redirects=False).status_code == 404
