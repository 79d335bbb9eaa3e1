"""The hub page's JSON."""

from __future__ import annotations

from pydantic import BaseModel, Field

from common.accounts import Role


class HubLoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class HubMeOut(BaseModel):
    username: str
    role: Role
    language: str
    hub: str


class HubCameraOut(BaseModel):
    """A camera's last state, as its station last sent it."""

    id: str
    state: str
    since: float
    detail: str


class HubStationOut(BaseModel):
    id: str
    name: str
    link_up: bool
    lag: int | None
    checked_at: float | None
    last_event_at: float | None
    error: str
    open_alerts: int
    cameras: list[HubCameraOut]


class HubAlertOut(BaseModel):
    """One alert of a station (``id`` is the hub's row in that station's store)."""

    station: str
    id: int
    camera_id: str
    kind: str
    severity: str
    started_at: float
    ended_at: float | None


class HubOverviewOut(BaseModel):
    hub: str
    stations: list[HubStationOut]
    alerts: list[HubAlertOut]
