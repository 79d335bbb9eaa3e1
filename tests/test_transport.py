"""The dashboard against the station LAN: HTTPS with a real certificate, a plain port that
only redirects, no plain HTTP off loopback, /metrics behind a token, /readyz quiet to
strangers, and no answers to a DNS-rebound host name.

The HTTPS tests run the real dashboard process entry (:func:`dashboard.server.run_dashboard`,
uvicorn with TLS and the redirecting server) on 127.0.0.1 with a self-signed certificate
made by :mod:`dashboard.certificate`, and talk to it with httpx trusting only that
certificate.
"""

from __future__ import annotations

import os
import re
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from common.config import SiteConfig
from common.config_loader import ConfigError, load_site, parse_site
from dashboard.app import create_app
from dashboard.certificate import fingerprint, make_self_signed
from dashboard.health_access import MetricsTokenError
from dashboard.server import check_dashboard
from dashboard.tls import HSTS, TlsError
from matthan.demo import DEMO_HOSTS, ensure_demo_certificate
from tests.conftest import Service, free_port
from tests.dashboard_site import PASSWORD, copy_store, fill_store, login, site_config
from tests.https_dashboard import HttpsDashboard
from tests.paths import REPO

TOKEN_ENV = "MATTHAN_METRICS_TOKEN"
TOKEN = "scrape-token-for-the-tests-0123456789"
CAMERAS = ("cho-gom", "bai-xe", "de-song")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("transport") / "site.db"
    fill_store(database)
    return database


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    make_self_signed(cert, key, DEMO_HOSTS)
    return cert, key


@pytest.fixture
def https_dashboard(
    template: Path, certificate: tuple[Path, Path], tmp_path: Path
) -> Iterator[HttpsDashboard]:
    cert, key = certificate
    site = site_config(
        port=free_port(), redirect_port=free_port(), tls={"cert": str(cert), "key": str(key)}
    )
    running = HttpsDashboard(site, copy_store(template, tmp_path))
    yield running
    running.close()


# --- HTTPS and the redirecting port ----------------------------------------------------------


def test_the_site_is_served_over_https_with_a_secure_cookie_and_hsts(
    https_dashboard: HttpsDashboard,
) -> None:
    with https_dashboard.client() as client:
        page = client.get("/login")
        assert page.status_code == 200
        assert page.headers["strict-transport-security"] == HSTS
        answer = client.post("/api/login", json={"username": "admin", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("matthan_session=")
        assert "; secure" in cookie.lower()
        assert "httponly" in cookie.lower()
        assert client.get("/api/me").json()["username"] == "admin"  # the cookie works
    # The certificate is checked: a client that trusts only the system's authorities refuses.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{https_dashboard.url}/healthz", timeout=5)


def test_the_plain_port_only_redirects(https_dashboard: HttpsDashboard) -> None:
    plain = f"http://127.0.0.1:{https_dashboard.plain_port}"
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        page = client.get(f"{plain}/cameras/cho-gom?at=5")
        assert page.status_code == 308
        assert page.headers["location"] == f"{https_dashboard.url}/cameras/cho-gom?at=5"
        assert page.content == b""
        # A login sent in clear gets no session: nothing but the redirect, and no cookie.
        login_answer = client.post(
            f"{plain}/api/login", json={"username": "admin", "password": PASSWORD}
        )
        assert login_answer.status_code == 308
        assert login_answer.content == b""
        assert "set-cookie" not in login_answer.headers
        for path in ("/api/alerts", "/metrics", "/readyz", "/static/app.css"):
            answer = client.get(f"{plain}{path}")
            assert (answer.status_code, answer.content) == (308, b""), path
        local = client.get(f"http://localhost:{https_dashboard.plain_port}/")
        assert local.headers["location"] == f"https://localhost:{https_dashboard.port}/"
        # A rebound name is not redirected anywhere either.
        rebound = client.get(f"{plain}/", headers={"Host": "evil.example"})
        assert rebound.status_code == 400
        assert "location" not in rebound.headers
    with https_dashboard.client() as secure:
        followed = httpx.get(
            f"{plain}/login", verify=https_dashboard.trust, follow_redirects=True, timeout=10
        )
        assert followed.status_code == 200
        assert str(followed.url) == f"{https_dashboard.url}/login"
        assert secure.get("/healthz").json() == {"status": "ok"}


def test_a_rebound_host_name_is_refused_over_https(https_dashboard: HttpsDashboard) -> None:
    with https_dashboard.client() as client:
        assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
        answer = client.post(
            "/api/login",
            json={"username": "admin", "password": PASSWORD},
            headers={"Host": f"evil.example:{https_dashboard.port}"},
        )
        assert answer.status_code == 400
        assert "set-cookie" not in answer.headers


SERVICE = """\
site: {{name: "Giám sát (https)"}}
storage: {{database: data/test.db}}
dashboard: {{port: {port}, redirect_port: {plain}, tls: {{cert: {cert}, key: {key}}}}}
ingest: {{workers: 1, open_timeout_s: 1}}
cameras:
  - {{id: cong, name: "Cổng", detect_url: "rtsp://127.0.0.1:{dark}/none"}}
"""


@pytest.mark.e2e
@pytest.mark.timeout(90)
def test_matthan_run_serves_https_and_stops_cleanly(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    """The supervisor's dashboard process: both servers in one loop, stopped by Ctrl-C."""
    cert, key = certificate
    port, plain = free_port(), free_port()
    config = tmp_path / "site.yaml"
    text = SERVICE.format(port=port, plain=plain, cert=cert, key=key, dark=free_port())
    config.write_text(text, "utf-8")
    service = Service(config, port, tmp_path / "matthan.log")
    try:
        trust = ssl.create_default_context(cafile=cert)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert service.process.poll() is None, service.log_text()[-3000:]
            try:
                health = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=trust, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise TimeoutError(service.log_text()[-3000:])
        assert health.headers["strict-transport-security"] == HSTS
        redirect = httpx.get(f"http://localhost:{plain}/cameras", timeout=5)
        assert redirect.status_code == 308
        assert redirect.headers["location"] == f"https://localhost:{port}/cameras"
        assert "dashboard on https://127.0.0.1" in service.log_text()
    finally:
        assert service.stop() == 0, service.log_text()[-3000:]
    assert "exited with" not in service.log_text()  # no role died on the way


# --- configuration ---------------------------------------------------------------------------

SITE = """\
site: {name: Test}
dashboard:
  host: "%s"
%s
storage: {database: data/test.db}
cameras:
  - {id: cam-a, name: A, detect_url: "rtsp://127.0.0.1:8554/a"}
"""


def _site_text(host: str, *lines: str) -> str:
    return SITE % (host, "\n".join(f"  {line}" for line in lines))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "station.lan"])
def test_plain_http_off_loopback_is_refused_naming_file_and_key(host: str) -> None:
    text = _site_text(host, "port: 8000")
    with pytest.raises(ConfigError) as caught:
        parse_site(text, Path("configs/station.yaml"))
    message = str(caught.value)
    assert "configs/station.yaml:3: dashboard.host:" in message, message
    assert "dashboard.tls" in message
    # The same site with a certificate, or marked as a lab, loads.
    tls = "tls: {cert: station.crt, key: station.key}"
    assert parse_site(_site_text(host, "allowed_hosts: [station.lan]", tls), Path("s.yaml"))
    lab = _site_text(host, "allowed_hosts: [station.lan]", "allow_plain_http: true")
    assert parse_site(lab, Path("s.yaml")).dashboard.allow_plain_http


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_plain_http_on_loopback_is_allowed(host: str) -> None:
    site = parse_site(_site_text(host, "port: 8000"), Path("s.yaml"))
    assert site.dashboard.port == 8000


def test_transport_mistakes_name_their_key() -> None:
    cases = {
        "dashboard.redirect_port: redirects plain HTTP to HTTPS": (
            "127.0.0.1",
            "redirect_port: 8080",
        ),
        "dashboard.redirect_port: must differ": (
            "127.0.0.1",
            "tls: {cert: a.crt, key: a.key}",
            "redirect_port: 8000",
            "port: 8000",
        ),
        "dashboard.allowed_hosts: host '0.0.0.0' listens on every address": (
            "0.0.0.0",
            "tls: {cert: a.crt, key: a.key}",
        ),
        "dashboard.allowed_hosts: Value error, 'station.lan:8443' is neither": (
            "127.0.0.1",
            "allowed_hosts: ['station.lan:8443']",
        ),
    }
    for expected, (host, *lines) in cases.items():
        with pytest.raises(ConfigError, match=re.escape(expected)):
            parse_site(_site_text(host, *lines), Path("s.yaml"))


def test_the_shipped_station_config_is_https_and_names_its_hosts() -> None:
    site = load_site(REPO / "configs" / "battrang.yaml")
    assert site.dashboard.tls is not None
    assert site.dashboard.allowed_hosts
    assert not site.dashboard.allow_plain_http


def test_a_certificate_that_cannot_be_served_stops_the_service_before_it_starts(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    other_key = tmp_path / "other.key"
    make_self_signed(tmp_path / "other.crt", other_key, ["localhost"])
    missing = site_config(tls={"cert": str(tmp_path / "absent.crt"), "key": str(key)})
    with pytest.raises(TlsError, match=r"dashboard\.tls\.cert: .*absent\.crt"):
        check_dashboard(missing.dashboard)
    mismatched = site_config(tls={"cert": str(cert), "key": str(other_key)})
    with pytest.raises(TlsError, match="cannot serve"):
        check_dashboard(mismatched.dashboard)
    check_dashboard(site_config(tls={"cert": str(cert), "key": str(key)}).dashboard)

    config = tmp_path / "site.yaml"
    config.write_text(_site_text("127.0.0.1", "tls: {cert: absent.crt, key: absent.key}"))
    done = subprocess.run(
        [sys.executable, "-m", "matthan.cli", "run", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "dashboard.tls.cert" in done.stderr


# --- /metrics and /readyz --------------------------------------------------------------------


@pytest.fixture
def client(template: Path, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(site_config(), copy_store(template, tmp_path))) as test_client:
        yield test_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_metrics_need_the_token_or_an_admin(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "matthan_" not in anonymous.text
    assert client.get("/metrics", headers=_bearer(TOKEN + "x")).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    scraped = client.get("/metrics", headers=_bearer(TOKEN))
    assert scraped.status_code == 200
    assert "matthan_build_info" in scraped.text
    login(client, "viewer")
    assert client.get("/metrics").status_code == 403
    login(client, "admin")
    assert client.get("/metrics").status_code == 200


def test_without_the_token_variable_only_an_admin_reads_metrics(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=_bearer("")).status_code == 401
    assert client.get("/metrics", headers=_bearer("anything-at-all-long")).status_code == 401
    login(client, "admin")
    assert client.get("/metrics").status_code == 200


def test_a_short_token_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "short")
    with pytest.raises(MetricsTokenError, match=TOKEN_ENV):
        check_dashboard(site_config().dashboard)


def test_readyz_says_nothing_per_role_or_camera_without_a_login(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    bare = client.get("/readyz")
    assert bare.status_code == 503  # no role beats in this test
    assert bare.json() == {"ready": False}
    assert not any(name in bare.text for name in (*CAMERAS, "ingest", "detect"))
    assert client.get("/healthz").json() == {"status": "ok"}
    detailed = client.get("/readyz", headers=_bearer(TOKEN))
    assert detailed.status_code == 503
    assert "detect: no heartbeat yet" in detailed.json()["reasons"]
    login(client, "viewer")
    assert "roles" in client.get("/readyz").json()


# --- allowed hosts ---------------------------------------------------------------------------


def test_a_dns_rebound_host_is_refused(client: TestClient) -> None:
    """A page of evil.example whose name now resolves to the station: nothing is answered,
    no login is taken, no socket opens (the site's default config)."""
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "", "a@localhost"):
        answer = client.get("/api/site", headers={"Host": host})
        assert answer.status_code == 400, host
        assert "Bát Tràng" not in answer.text
    refused = client.post(
        "/api/login",
        json={"username": "admin", "password": PASSWORD},
        headers={"Host": "evil.example"},
    )
    assert refused.status_code == 400
    assert "set-cookie" not in refused.headers
    login(client, "viewer")
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/ws/alerts", headers={"Host": "evil.example"}),
    ):
        pass
    assert denied.value.status_code == 400


def test_the_names_the_station_is_reached_by_are_allowed(template: Path, tmp_path: Path) -> None:
    site = site_config(allowed_hosts=["station.lan", "10.21.0.2"])
    app = create_app(site, copy_store(template, tmp_path))
    with TestClient(app, base_url="http://station.lan") as client:
        allowed = ("station.lan", "STATION.LAN:8443", "10.21.0.2:8000", "127.0.0.1:8000")
        for host in (*allowed, "localhost", "[::1]:8000"):
            assert client.get("/api/site", headers={"Host": host}).status_code == 200, host
        for host in ("station.lan.evil.example", "10.21.0.3", "testserver"):
            assert client.get("/api/site", headers={"Host": host}).status_code == 400, host


def test_the_configured_address_is_allowed_but_not_a_wildcard(
    template: Path, tmp_path: Path
) -> None:
    tls = {"cert": "a.crt", "key": "a.key"}
    site = site_config(host="10.21.0.2", tls=tls)
    with TestClient(create_app(site, copy_store(template, tmp_path))) as client:
        assert client.get("/api/site", headers={"Host": "10.21.0.2:8443"}).status_code == 200
        assert client.get("/api/site", headers={"Host": "0.0.0.0"}).status_code == 400


# --- the demo --------------------------------------------------------------------------------


def test_the_demo_makes_its_certificate_once_and_prints_the_fingerprint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text("utf-8"))
    config = load_site(REPO / "configs" / "demo.yaml").dashboard
    assert config.tls is not None
    assert config.redirect_port == 8000  # README's http://localhost:8000 still leads there
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    demo["dashboard"]["tls"] = {"cert": str(cert), "key": str(key)}
    site = SiteConfig.model_validate(demo)
    ensure_demo_certificate(site)
    printed = capsys.readouterr().out
    first = fingerprint(cert)
    assert first in printed
    assert f"https://localhost:{config.port}" in printed
    assert "http://localhost:8000" in printed
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    openssl = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert openssl.stdout.strip().endswith(first)
    ensure_demo_certificate(site)
    assert fingerprint(cert) == first  # kept, not made anew at every start
    assert first in capsys.readouterr().out
