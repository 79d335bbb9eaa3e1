"""A district hub's configuration: one YAML file (``configs/hub.example.yaml``).

A hub joins the stations of several communes (each its own site, ``docs/SCALING.md``): each
station's NATS server connects to the hub's leaf-node port, and the hub reads the station's
alert stream into a store of its own per station. The hub's page shows every station's
alerts and camera health, read-only, to the users the hub's accounts allow.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from common.config import StrictModel, TlsConfig

STATION_ID = r"^[A-Za-z0-9_-]{1,64}$"
"""As a station's ``cluster.site_id``: it is the station's JetStream domain."""


class HubInfo(StrictModel):
    """The hub itself: where its files live and the ports its NATS server listens on."""

    id: str = Field(pattern=STATION_ID, description="the hub's short name")
    database: Path = Field(
        default=Path("data/hub/hub.db"),
        description="the hub's accounts; each station's store is stations/<id>/ beside it",
    )
    host: str = Field(default="127.0.0.1", description="the address the hub's NATS listens on")
    port: int = Field(default=4232, ge=1, le=65535, description="the hub's own clients")
    leaf_port: int = Field(default=7422, ge=1, le=65535, description="stations join here")
    leaf_advertise: str | None = Field(
        default=None,
        pattern=r"^[^/\s:]+:\d{1,5}$",
        description="host:port the stations reach the leaf port by, when not host:leaf_port"
        " (a NAT, a relay): a station that lost its link dials it again",
    )
    token_env: str = Field(
        default="MATTHAN_HUB_TOKEN",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="the environment variable holding the hub token (never the YAML)",
    )
    tls: TlsConfig | None = Field(
        default=None,
        description="serve the leaf port over TLS with this certificate and key: the"
        " stations' tokens and alerts cross the district network encrypted",
    )

    @model_validator(mode="after")
    def _ports_differ(self) -> HubInfo:
        if self.port == self.leaf_port:
            raise ValueError("port and leaf_port must differ")
        return self


class HubStation(StrictModel):
    """One station that joins the hub: its ``cluster.site_id`` and a name for people."""

    id: str = Field(pattern=STATION_ID)
    name: str = Field(min_length=1, max_length=120)
    token_generation: int = Field(
        default=1,
        ge=1,
        description="raise it by one to revoke the station's token: the hub then takes only"
        " the new one (matthan hub-token prints it); the other stations' tokens stay",
    )


class HubDashboard(StrictModel):
    """The hub's read-only page: over HTTPS with ``tls``; without it plain HTTP (keep it on
    loopback or behind a TLS proxy)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    tls: TlsConfig | None = Field(default=None, description="serve HTTPS with this certificate")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 14)
    idle_timeout_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    metrics_token_env: str | None = Field(
        default="MATTHAN_METRICS_TOKEN",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="environment variable holding the bearer token of /metrics (never the"
        " token itself); while it is unset only an admin's session may read /metrics",
    )


class HubConfig(StrictModel):
    """A whole district hub: one YAML file."""

    hub: HubInfo
    dashboard: HubDashboard = HubDashboard()
    stations: list[HubStation] = Field(min_length=1)

    @model_validator(mode="after")
    def _stations_unique(self) -> HubConfig:
        seen: set[str] = set()
        for station in self.stations:
            if station.id in seen:
                raise ValueError(f"station {station.id!r} is listed twice")
            seen.add(station.id)
        return self

    def station_database(self, station_id: str) -> Path:
        """The hub's store of one station's alerts and camera states."""
        return self.hub.database.parent / "stations" / station_id / "matthan.db"
