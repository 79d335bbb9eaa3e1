"""``matthan hub -c hub.yaml``: a district hub (``docs/SCALING.md``).

One process: the hub's NATS server (:class:`matthan.cluster.hub_server.HubServer`), one
reader per station (:class:`matthan.hub.intake.StationIntake`, each into the hub's store of
that station) and the read-only page (:mod:`dashboard.hub`). SIGTERM or SIGINT stops the page,
then the readers (each finishes the event it is storing), then the server.
"""

from __future__ import annotations

import logging
import signal
import types

import uvicorn

from common.accounts import Accounts
from common.hub_config import HubConfig
from common.store import Store
from dashboard.health_access import MetricsTokenError, token_in_env
from dashboard.hub.app import create_hub_app
from dashboard.hub.state import HubState
from dashboard.tls import TlsError, check_tls, uvicorn_tls
from matthan.cluster.hub_server import HubServer
from matthan.cluster.server import NatsServerError, site_token
from matthan.hub.intake import StationIntake

log = logging.getLogger(__name__)


def run_hub(config: HubConfig) -> int:
    """Serve the hub until SIGTERM/SIGINT; 1 when its NATS server cannot start, its metrics
    token is too short to be a secret or its page's certificate cannot be served."""
    page_tls = config.dashboard.tls
    try:
        token_in_env(config.dashboard.metrics_token_env)
        if page_tls is not None:
            check_tls(page_tls)
    except (MetricsTokenError, TlsError) as exc:
        log.error("%s", exc)
        return 1
    try:
        token = site_token(config.hub.token_env, "hub token")
        server = HubServer(config, token=token)
        server.store_dir = server.store_dir.resolve()
        server.start()
    except NatsServerError as exc:
        log.error("%s", exc)
        return 1
    config.hub.database.parent.mkdir(parents=True, exist_ok=True)
    accounts_store = Store(config.hub.database)
    stores: dict[str, Store] = {}
    intakes: dict[str, StationIntake] = {}
    for station in config.stations:
        path = config.station_database(station.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        stores[station.id] = Store(path)
        intakes[station.id] = StationIntake(
            config.hub.id, station.id, server.url, token, stores[station.id]
        ).start()
    state = HubState(
        config=config,
        accounts=Accounts(accounts_store),
        stores=stores,
        links={station: intake.state for station, intake in intakes.items()},
    )
    web = uvicorn.Server(
        uvicorn.Config(
            create_hub_app(state),
            host=config.dashboard.host,
            port=config.dashboard.port,
            log_level="warning",
            timeout_graceful_shutdown=3,
            **uvicorn_tls(page_tls),
        )
    )

    def stop(_signum: int, _frame: types.FrameType | None) -> None:
        web.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "hub %s: %d stations; leaf port %d%s; page on %s://%s:%d/hub",
        config.hub.id,
        len(config.stations),
        config.hub.leaf_port,
        " (TLS)" if config.hub.tls is not None else "",
        "http" if page_tls is None else "https",
        config.dashboard.host,
        config.dashboard.port,
    )
    try:
        web.run()
    finally:
        for intake in intakes.values():
            intake.stop()
        for store in (*stores.values(), accounts_store):
            store.close()
        server.stop()
    return 0
