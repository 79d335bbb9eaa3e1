"""Who may call what, over every route of the app.

:data:`ACCESS` classifies every route; the first test fails when a route is added without
a line here, so a new route (export, WebRTC offer...) cannot ship unguarded by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount
from starlette.websockets import WebSocketDisconnect

from dashboard.app import create_app
from tests.dashboard_site import PASSWORD, fill_store, login, site_config

PUBLIC, HEALTH, VIEWER, OPERATOR, ADMIN = "public", "health", "viewer", "operator", "admin"
PAGE = "page"  # a page for any logged-in user (redirects to the login page without one)
ADMIN_PAGE = "admin page"

ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/login"): PUBLIC,
    ("GET", "/api/site"): PUBLIC,
    ("POST", "/api/login"): PUBLIC,
    ("GET", "/healthz"): HEALTH,
    ("GET", "/readyz"): HEALTH,
    ("GET", "/metrics"): HEALTH,
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
}
BODIES: dict[tuple[str, str], object] = {
    ("POST", "/api/login"): {"username": "viewer", "password": PASSWORD},
    ("PUT", "/api/me/language"): {"language": "en"},
    ("POST", "/api/alerts/{alert_id}/acknowledge"): {"note": "ok"},
    ("POST", "/api/alerts/{alert_id}/resolve"): {"note": "ok"},
    ("POST", "/api/cameras/{camera_id}/webrtc"): {"sdp": "v=0", "type": "offer"},
    ("POST", "/api/exports"): {"camera_ids": ["cho-gom"], "start": 1, "end": 2, "reason": "test"},
    ("POST", "/api/reanalysis/jobs"): {"camera_id": "cho-gom", "start": 1, "end": 2},
    ("POST", "/api/users"): {"username": "new-user", "password": "long-enough-1", "role": "viewer"},
    ("PATCH", "/api/users/{username}"): {"areas": []},
}
PARAMS = {
    "{alert_id}": "1",
    "{camera_id}": "cho-gom",
    "{username}": "viewer",
    "{job_id}": "1",
    "{finding_id}": "1",
}
RANK = [VIEWER, OPERATOR, ADMIN]


def app_routes(public_health: bool = True) -> set[tuple[str, str]]:
    """(method, path) of every route of the app; WebSockets as ``WS``; /static is a mount."""
    app = create_app(site_config(public_health=public_health), Path("unused.db"))
    found = set()
    for context in iter_route_contexts(app.routes):  # routes of included routers too
        route, path = context.original_route, context.path
        if isinstance(route, APIRoute):
            found |= {(method, path) for method in context.methods or ()}
        elif isinstance(route, APIWebSocketRoute):
            found.add(("WS", path))
        else:
            assert isinstance(route, Mount), route
            assert path == "/static"
    return found


def concrete(path: str) -> str:
    for name, value in PARAMS.items():
        path = path.replace(name, value)
    return path


def call(client: TestClient, method: str, path: str, csrf: str = "") -> int:
    """The status of one request (no redirects followed); a refused WebSocket is 403."""
    if method == "WS":
        try:
            with client.websocket_connect(concrete(path)):
                return 101
        except WebSocketDisconnect:
            return 403
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    body = BODIES.get((method, path))
    response = client.request(
        method, concrete(path), json=body, headers=headers, follow_redirects=False
    )
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login?next=")
    return response.status_code


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("access") / "site.db"
    fill_store(path)
    return path


@pytest.fixture
def client(database: Path) -> Iterator[TestClient]:
    with TestClient(create_app(site_config(), database)) as test_client:
        yield test_client


def test_every_route_is_classified() -> None:
    assert app_routes() == set(ACCESS)


@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_without_a_session(client: TestClient, method: str, path: str) -> None:
    """401 for the API, the login page for pages, a refused WebSocket; public stays open."""
    status = call(client, method, path)
    access = ACCESS[(method, path)]
    if access in (PUBLIC, HEALTH):
        assert status not in (401, 403, 303)
    elif access in (PAGE, ADMIN_PAGE):
        assert status == 303
    elif method == "WS":
        assert status == 403
    else:
        assert status == 401


@pytest.mark.parametrize("role", RANK)
def test_roles_below_what_a_route_needs_get_403(client: TestClient, role: str) -> None:
    """A viewer cannot acknowledge or manage users; an operator cannot manage users; an
    admin may do everything."""
    csrf = login(client, role)
    for (method, path), access in sorted(ACCESS.items()):
        needed = VIEWER if access == PAGE else ADMIN if access == ADMIN_PAGE else access
        if needed not in RANK or (method, path) == ("POST", "/api/logout"):
            continue
        status = call(client, method, path, csrf)
        if RANK.index(needed) > RANK.index(role):
            assert status == 403, (method, path)
        else:
            assert status not in (401, 403), (method, path)


def test_health_needs_a_session_when_not_public(database: Path) -> None:
    app = create_app(site_config(public_health=False), database)
    with TestClient(app) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert client.get(path).status_code == 401
        login(client, VIEWER)
        assert client.get("/healthz").status_code == 200


def test_no_schema_or_docs_are_served(client: TestClient) -> None:
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(path, follow_redirects=False).status_code in (303, 404)
