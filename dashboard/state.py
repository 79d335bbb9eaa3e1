"""What the app's lifespan owns and hands to the routes as a typed dependency."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from common.accounts import Accounts
from common.bus import EventBus
from common.config import SiteConfig
from common.messages import AlertNotice
from common.store import Store
from dashboard.services.live import LiveRelay
from dashboard.services.login_throttle import LoginThrottle
from dashboard.services.overlay import LiveDetections
from dashboard.services.thumbnails import Thumbnails
from dashboard.services.upload_limits import UploadGate


@dataclass(frozen=True, slots=True)
class DashboardState:
    """The resources the lifespan opened and closes; what the routes compute from them lives
    in :mod:`dashboard.services` (e.g. :mod:`dashboard.services.camera_access`)."""

    site: SiteConfig
    store: Store
    bus: EventBus[AlertNotice]
    accounts: Accounts
    thumbnails: Thumbnails
    live: LiveRelay
    detections: LiveDetections
    uploads: UploadGate = field(default_factory=UploadGate)
    logins: LoginThrottle = field(default_factory=LoginThrottle)


def _state(connection: HTTPConnection) -> DashboardState:
    state: DashboardState = connection.app.state.dashboard
    return state


State = Annotated[DashboardState, Depends(_state)]
