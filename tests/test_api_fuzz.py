"""Bad input at the HTTP edge: the API fuzzed from its own OpenAPI schema, path traversal,
and ids of cameras and alerts outside the user's areas.

The app serves no schema in production (``openapi_url=None``), so the schema comes from
``app.openapi()`` of the same factory. Schemathesis generates requests for every operation
and sends them to the real app under uvicorn, on a real store, as a logged-in admin with
the CSRF header: no answer may be a server error (5xx).

Route protection by role, cookie flags and the login rate limit are tested in
``tests/test_dashboard_access.py`` and ``tests/test_dashboard_auth.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from common.accounts import Accounts, Role
from common.store import Store
from dashboard.app import create_app
from dashboard.auth import COOKIE, CSRF_HEADER
from tests.area_footage import add_market_footage, site_for
from tests.case_footage import add_market_case
from tests.conftest import free_port, wait_http
from tests.dashboard_site import (
    AREA_DYKE,
    PASSWORD,
    copy_store,
    fill_store,
    login,
    site_config,
)
from tests.webrtc_offers import aiortc_accepts, broken_offers

EXCLUDED = {
    # Would end the session that every other request uses.
    "/api/logout": "ends the fuzzing session",
    # 503 is its documented "not ready" answer, and no role beats here.
    "/readyz": "answers 503 without ingest and detection roles",
}
SQLITE_INTEGERS = range(-(2**63), 2**63)
SCHEMA = schemathesis.openapi.from_dict(create_app(site_config(), Path("unused.db")).openapi())
TRAVERSALS = (
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fcommon%2fstore.py",
    "..%5C..%5Cetc%5Cpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "cho-gom%00.jpg",
    "....//....//etc/passwd",
)
QUERY = {
    "/api/cameras/{camera_id}/timeline": {"start": "{start}", "end": "{end}"},
    "/api/cameras/{camera_id}/playback": {"at": "{start}"},
}
"""Query parameters a GET route with an id in its path needs (replay and export windows);
``{start}`` and ``{end}`` are the market's recorded window (:mod:`tests.area_footage`)."""
OUTSIDE_MARKERS = (b"root:x:0:0", b"SCHEMA_VERSION", b"CREATE TABLE")
"""Bytes of files outside what the app serves: /etc/passwd and the store's source."""


class Dashboard:
    """The real app under uvicorn in a thread, on a filled store, with an admin session."""

    def __init__(self, database: Path) -> None:
        self.database = database
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(site_config(), database), host="127.0.0.1", port=port, log_level="error"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn")
        self.thread.start()
        wait_http(f"{self.base_url}/healthz", 20)
        with TestClient(create_app(site_config(), database)) as client:
            self.csrf = login(client, "admin")
            self.cookie = client.cookies[COOKIE]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A filled store, copied by each user of it (filling costs a second of hashing), with
    an operator of the dyke area only."""
    database = tmp_path_factory.mktemp("fuzz") / "site.db"
    fill_store(database)
    store = Store(database)
    try:
        Accounts(store).add_user(
            "dyke-operator", PASSWORD, Role.OPERATOR, actor="test", areas=(AREA_DYKE,)
        )
    finally:
        store.close()
    return database


@pytest.fixture(scope="module")
def dashboard(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    running = Dashboard(copy_store(template, tmp_path_factory.mktemp("served")))
    yield running
    running.stop()


@pytest.fixture
def client(template: Path, tmp_path: Path) -> Iterator[TestClient]:
    database = copy_store(template, tmp_path)
    with TestClient(create_app(site_config(), database)) as test_client:
        yield test_client


@SCHEMA.exclude(path=list(EXCLUDED)).parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_fuzzed_requests_never_get_a_server_error(
    case: schemathesis.Case, dashboard: Dashboard
) -> None:
    response = case.call(
        base_url=dashboard.base_url,
        headers={CSRF_HEADER: dashboard.csrf},
        cookies={COOKIE: dashboard.cookie},
        timeout=20,
    )
    case.validate_response(response, checks=[not_a_server_error])


def routes_with_integer_ids() -> list[str]:
    """Every GET route with an integer id in its path, as ``/api/...{name}...``."""
    app = create_app(site_config(), Path("unused.db"))
    return sorted(
        context.path
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and "GET" in (context.methods or ())
        and any(
            param.field_info.annotation is int
            for param in context.original_route.dependant.path_params
        )
    )


@pytest.mark.parametrize("path", routes_with_integer_ids())
def test_ids_beyond_the_store_range_are_refused(client: TestClient, path: str) -> None:
    login(client, "admin")
    for value in (str(2**63), str(-(2**63) - 1), "1" + "0" * 40):
        response = client.get(fill(path, value))
        assert response.status_code in (404, 422), (value, response.status_code)


@pytest.mark.parametrize(
    "path",
    [
        "/api/alerts?before={}",
        "/api/audit?before={}",
        "/api/reanalysis/jobs?before={}",
        "/api/reanalysis/jobs/1?after={}",
    ],
)
def test_paging_ids_beyond_the_store_range_are_refused(client: TestClient, path: str) -> None:
    login(client, "admin")
    for value in (str(2**63), "1" + "0" * 40):
        response = client.get(path.format(value))
        assert response.status_code in (404, 422), (path, value, response.status_code)


def test_webrtc_offer_without_h264_is_a_client_error(client: TestClient) -> None:
    csrf = login(client, "admin")
    response = client.post(
        "/api/cameras/cho-gom/webrtc",
        json={"sdp": "v=0", "type": "offer"},
        headers={CSRF_HEADER: csrf},
    )
    assert response.status_code == 422, response.text


def test_fuzzed_h264_offers_are_refused_before_the_camera_is_dialled(client: TestClient) -> None:
    """The schema fuzzer above never gets past the H.264 check, so here real H.264 offers
    are broken line by line. aiortc is the referee: an offer it cannot take is the client's
    fault (422), found before the camera is dialled (the site's cameras are a closed port,
    so a dialled camera would answer 502); no offer leaves a peer behind."""
    csrf = login(client, "admin")
    live = client.app.state.dashboard.live  # type: ignore[attr-defined]

    @given(offer=broken_offers())
    @settings(max_examples=40, deadline=None, database=None)
    def check(offer: str) -> None:
        response = client.post(
            "/api/cameras/cho-gom/webrtc",
            json={"sdp": offer, "type": "offer"},
            headers={CSRF_HEADER: csrf},
        )
        allowed = {422, 502} if aiortc_accepts(offer) else {422}
        assert response.status_code in allowed, (response.status_code, response.text)
        assert live.viewer_count == 0

    check()


def api_routes_with_path_parameters() -> list[str]:
    """Every GET route of the API that takes an id in its path (replay and export too,
    once they exist)."""
    app = create_app(site_config(), Path("unused.db"))
    return sorted(
        context.path
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and "GET" in (context.methods or ())
        and context.path.startswith("/api/")
        and "{" in context.path
    )


def fill(path: str, value: str) -> str:
    """``path`` with every ``{parameter}`` replaced by ``value``."""
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + value + path[end + 1 :]
    return path


@pytest.mark.parametrize("path", api_routes_with_path_parameters())
def test_path_traversal_never_reaches_a_file(client: TestClient, path: str) -> None:
    login(client, "admin")
    for attack in TRAVERSALS:
        response = client.get(fill(path, attack))
        assert response.status_code in (400, 403, 404, 422), (attack, response.status_code)
        assert not any(marker in response.content for marker in OUTSIDE_MARKERS), attack


def test_static_files_stay_in_their_folder(client: TestClient) -> None:
    for attack in TRAVERSALS:
        response = client.get(f"/static/{attack}")
        assert response.status_code == 404, attack
        assert not any(marker in response.content for marker in OUTSIDE_MARKERS), attack


@pytest.mark.parametrize("path", api_routes_with_path_parameters())
def test_ids_of_another_area_are_not_found(template: Path, tmp_path: Path, path: str) -> None:
    """The dyke operator asks for the market's camera, alert, recording, export, job and
    finding: as if they did not exist (404). An operator, not a viewer: a viewer is refused
    an operator's route (the exports) by role before the area is looked at. The ids are
    real (:mod:`tests.area_footage`), and an operator of all areas gets the same request
    answered (200), so the 404 is the area check's and not a missing file's.

    A route that needs query parameters gets them from :data:`QUERY`; without them FastAPI
    answers 422 before the route could check the area, so a new such route fails here
    until its line is added."""
    database = copy_store(template, tmp_path)
    footage = add_market_footage(database)
    case = add_market_case(database, footage)
    values = footage.path_values() | {
        "case_id": str(case.case_id),
        "clip_id": str(case.clip_id),
        "package_id": str(case.package.id),
    }
    concrete = path
    for name, value in values.items():
        concrete = concrete.replace("{" + name + "}", value)
    assert "{" not in concrete, f"no id of another area for {path}: extend path_values()"
    window = {"start": str(footage.start + 1.0), "end": str(footage.end)}
    params = {key: value.format(**window) for key, value in QUERY.get(path, {}).items()}
    with TestClient(create_app(site_for(database), database)) as client:
        login(client, "dyke-operator")
        response = client.get(concrete, params=params)
        assert response.status_code != 422, f"add the query parameters of {path} to QUERY"
        assert response.status_code == 404, response.status_code
        login(client, "operator")
        control = client.get(concrete, params=params)
        assert control.status_code == 200, (control.status_code, control.text[:300])


def test_the_dyke_viewer_sees_only_the_dyke(client: TestClient) -> None:
    """The scope itself: lists hold the dyke's camera and alerts and nothing else."""
    login(client, "dyke-viewer")
    cameras = client.get("/api/cameras").json()
    assert [camera["area"] for camera in cameras] == [AREA_DYKE]
    alerts = client.get("/api/alerts").json()
    assert alerts
    assert {alert["camera_id"] for alert in alerts} == {"de-song"}
