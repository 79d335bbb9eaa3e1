"""What the hub's web app holds: its config, its accounts, each station's store and link."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from common.accounts import Accounts, User
from common.hub_config import HubConfig, HubStation
from common.hub_links import LinkState
from common.store import Store
from dashboard.services.login_throttle import LoginThrottle


@dataclass(slots=True)
class HubState:
    """``stores``: the hub's store of each station's alerts; ``links``: each station's link
    now (its intake's :meth:`state`)."""

    config: HubConfig
    accounts: Accounts
    stores: Mapping[str, Store]
    links: Mapping[str, Callable[[], LinkState]]
    logins: LoginThrottle = field(default_factory=LoginThrottle)

    def stations_of(self, user: User) -> list[HubStation]:
        """The stations ``user`` may see: an admin all, others those named in their areas
        (no areas: all)."""
        return [station for station in self.config.stations if user.sees_area(station.id)]


def hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


HubStateDep = Annotated[HubState, Depends(hub_state)]
