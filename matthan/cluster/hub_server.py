"""The district hub's NATS server: a leaf-node port the stations join, one account each.

Each station's own NATS server (with its JetStream, domain = its site id) connects to the
hub's leaf-node port as the user named by its site id, and lands in an **account of its
own** on the hub. Accounts do not see each other's subjects, so two stations' nodes, leases
and alert subjects never meet at the hub, however alike their names. The hub has no
JetStream of its own: it reads each station's stream in that station's JetStream (over the
link, as ``$JS.<station>.API``), with a durable consumer that lives at the station, so what
the hub has not acked waits there while the link is down, and comes in order after.

A station that lost its link dials again the leaf address the hub told it, which is the
hub's own listen address unless ``hub.leaf_advertise`` names the one stations reach it by
(a NAT, a relay). The hub's own clients (its intake, one per station) connect as
``hub-<station>`` into the station's account with the hub token (``MATTHAN_HUB_TOKEN``).

A station joins with a **token of its own**, :func:`station_token`: an HMAC of its id under
the hub token, which ``matthan hub-token -c hub.yaml --station ID`` prints for the station's
administrator. The hub token itself never leaves the hub, and a station's token is worth
nothing under another station's id. The config file, readable by its owner only, holds them.
Raising a station's ``token_generation`` in hub.yaml revokes its token (a stolen one, a
machine replaced): after a restart the hub takes only the token of the new generation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from common.hub_config import HubConfig
from common.tls_files import TlsFilesError, check_identity
from matthan.cluster.server import MAX_PAYLOAD_BYTES, NatsServer, NatsServerError


def station_token(hub_token: str, station_id: str, generation: int = 1) -> str:
    """The token station ``station_id`` joins the hub with (its ``MATTHAN_HUB_TOKEN``); each
    ``generation`` (the station's ``token_generation`` in hub.yaml) gives another one, so one
    station's token is revoked without changing the hub token."""
    message = station_id if generation == 1 else f"{station_id}#{generation}"
    return hmac.new(hub_token.encode(), message.encode(), hashlib.sha256).hexdigest()


def hub_user(station_id: str) -> str:
    """The user the hub's intake of ``station_id`` connects as."""
    return f"hub-{station_id}"


class HubServer(NatsServer):
    """``nats-server`` for a district hub (see the module's docstring)."""

    def __init__(self, config: HubConfig, *, token: str, binary: Path | None = None) -> None:
        super().__init__(
            config.hub.database.parent / "nats",
            token=token,
            port=config.hub.port,
            host=config.hub.host,
            binary=binary,
            server_name=f"hub-{config.hub.id}",
        )
        self._stations = {station.id: station.token_generation for station in config.stations}
        self.leaf_port = config.hub.leaf_port
        self._leaf_advertise = config.hub.leaf_advertise
        tls = config.hub.tls
        if tls is not None:
            try:
                check_identity(tls.cert, tls.key, "hub.tls")
            except TlsFilesError as exc:
                raise NatsServerError(str(exc)) from None
        self._leaf_tls = None if tls is None else (tls.cert.resolve(), tls.key.resolve())

    def config_lines(self) -> list[str]:
        password = json.dumps(self._token)
        leaf_users = ", ".join(
            f"{{ user: {json.dumps(station)},"
            f" password: {json.dumps(station_token(self._token, station, generation))},"
            f" account: {json.dumps(station)} }}"
            for station, generation in self._stations.items()
        )
        accounts = ", ".join(
            f"{json.dumps(station)}: {{ users: [ {{ user: {json.dumps(hub_user(station))},"
            f" password: {password} }} ] }}"
            for station in self._stations
        )
        listen = json.dumps(f"{self.host}:{self.leaf_port}")
        advertise = (
            ""
            if self._leaf_advertise is None
            else f" advertise: {json.dumps(self._leaf_advertise)},"
        )
        tls = (
            ""
            if self._leaf_tls is None
            else f" tls {{ cert_file: {json.dumps(str(self._leaf_tls[0]))},"
            f" key_file: {json.dumps(str(self._leaf_tls[1]))} }},"
        )
        return [
            f"server_name: {json.dumps(self._server_name)}",
            f"listen: {json.dumps(f'{self.host}:{self.port}')}",
            f"max_payload: {MAX_PAYLOAD_BYTES}",
            f"leafnodes {{ listen: {listen},{advertise}{tls}"
            f" authorization {{ users: [ {leaf_users} ] }} }}",
            f"accounts {{ {accounts} }}",
        ]
