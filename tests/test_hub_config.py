"""A district hub's config file and the NATS configs written for a hub and a station."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from common.config_loader import ConfigError, load_hub, parse_hub, parse_site
from dashboard.certificate import make_self_signed
from matthan.cluster.hub_server import HubServer, hub_user, station_token
from matthan.cluster.server import NatsServerError, station_server
from tests.paths import REPO

TOKEN = "hub-config-test-token-0123456789"


def test_the_example_hub_file_loads() -> None:
    config = load_hub(REPO / "configs" / "hub.example.yaml")
    assert [station.id for station in config.stations] == ["battrang", "kieuky", "da-ton"]
    assert config.station_database("kieuky") == Path("data/hub/stations/kieuky/matthan.db")


def test_a_bad_hub_file_names_file_line_and_key() -> None:
    text = "hub: {id: gialam}\nstations:\n  - {id: a, name: A}\n  - {id: 'b c', name: B}\n"
    with pytest.raises(ConfigError) as caught:
        parse_hub(text, Path("hub.yaml"))
    (issue,) = caught.value.issues
    assert (issue.path, issue.line, issue.key) == ("hub.yaml", 4, "stations[1].id")
    with pytest.raises(ConfigError, match="listed twice"):
        parse_hub("hub: {id: g}\nstations: [{id: a, name: A}, {id: a, name: B}]", Path("h.yaml"))


def test_the_hub_gives_each_station_an_account_of_its_own(tmp_path: Path) -> None:
    text = (
        f"hub: {{id: g, database: {tmp_path}/hub.db}}\n"
        "stations: [{id: a, name: A}, {id: b, name: B}]"
    )
    server = HubServer(parse_hub(text, Path("hub.yaml")), token=TOKEN)
    config = "\n".join(server.config_lines())
    assert station_token(TOKEN, "a") != station_token(TOKEN, "b")
    for station in ("a", "b"):
        own = station_token(TOKEN, station)  # a station joins with its own, not the hub's
        assert f'{{ user: "{station}", password: "{own}", account: "{station}" }}' in config
        assert f'"{station}": {{ users: [ {{ user: "{hub_user(station)}"' in config
    assert "jetstream" not in config  # the hub reads the stations' streams where they are


def test_raising_a_stations_token_generation_revokes_its_token_only(tmp_path: Path) -> None:
    text = (
        f"hub: {{id: g, database: {tmp_path}/hub.db}}\n"
        "stations: [{id: a, name: A, token_generation: 2}, {id: b, name: B}]"
    )
    config = "\n".join(HubServer(parse_hub(text, Path("hub.yaml")), token=TOKEN).config_lines())
    old, new = station_token(TOKEN, "a"), station_token(TOKEN, "a", 2)
    assert new != old
    assert f'password: "{new}"' in config
    assert f'password: "{old}"' not in config  # the revoked one is taken no more
    assert f'password: "{station_token(TOKEN, "b")}"' in config  # b keeps its token
    with pytest.raises(ConfigError, match="token_generation"):
        parse_hub("hub: {id: g}\nstations: [{id: a, name: A, token_generation: 0}]", Path("h"))


def test_a_station_joins_its_hub_as_a_leaf_with_its_domain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATTHAN_SITE_TOKEN", "site-token-0123456789abcdef")
    monkeypatch.setenv("MATTHAN_HUB_TOKEN", TOKEN)
    site = parse_site(
        f"""\
site: {{name: "Bát Tràng"}}
storage: {{database: {tmp_path}/station.db}}
cluster: {{enabled: true, site_id: battrang, hub: {{url: "nats-leaf://hub.gialam:7422"}}}}
cameras:
  - {{id: cong, name: "Cổng", detect_url: "rtsp://127.0.0.1:1/x"}}
""",
        Path("site.yaml"),
    )
    server = station_server(site)
    config_file = server._write_config()  # what reaches nats-server
    text = config_file.read_text()
    assert 'domain: "battrang"' in text
    assert f'url: "nats-leaf://battrang:{TOKEN}@hub.gialam:7422"' in text
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600  # it holds both tokens
    with pytest.raises(ConfigError) as caught:
        parse_site(
            "site: {name: x}\ncluster: {enabled: true, hub: {url: 'http://hub:7422'}}\n"
            "cameras: [{id: c, name: C, detect_url: 'rtsp://h/x'}]\n",
            Path("site.yaml"),
        )
    assert caught.value.issues[0].key == "cluster.hub.url"


def test_the_leaf_link_over_tls_checks_its_files_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub serves its leaf port with hub.tls, the station verifies it by cluster.hub.ca
    (tests/test_hub.py runs the link so, and fails with another authority); a file that is
    missing or not PEM stops either side at once, naming the key."""
    monkeypatch.setenv("MATTHAN_SITE_TOKEN", "site-token-0123456789abcdef")
    monkeypatch.setenv("MATTHAN_HUB_TOKEN", TOKEN)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_self_signed(cert, key, ["hub.gialam"])
    hub = f"hub: {{id: g, database: {tmp_path}/hub.db, tls: {{cert: {cert}, key: {key}}}}}\n"
    stations = "stations: [{id: battrang, name: B}]"
    lines = "\n".join(HubServer(parse_hub(hub + stations, Path("h")), token=TOKEN).config_lines())
    assert f'tls {{ cert_file: "{cert}", key_file: "{key}" }}' in lines
    with pytest.raises(NatsServerError, match=r"hub\.tls\.key: .*nothing\.pem"):
        HubServer(
            parse_hub(hub.replace(str(key), "nothing.pem") + stations, Path("h")), token=TOKEN
        )

    def station(ca: Path) -> str:
        return (
            f"site: {{name: B}}\nstorage: {{database: {tmp_path}/station.db}}\n"
            "cluster: {enabled: true, site_id: battrang,"
            f' hub: {{url: "nats-leaf://hub.gialam:7422", ca: {ca}}}}}\n'
            "cameras: [{id: c, name: C, detect_url: 'rtsp://h/x'}]\n"
        )

    text = station_server(parse_site(station(cert), Path("s")))._write_config().read_text()
    assert f'tls {{ ca_file: "{cert}" }}' in text
    with pytest.raises(NatsServerError, match=r"cluster\.hub\.ca: .*key\.pem holds no cert"):
        station_server(parse_site(station(key), Path("s")))
