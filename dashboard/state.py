"""What the app's lifespan owns and hands to the routes as a typed dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from common.bus import EventBus
from common.config import CameraConfig, SiteConfig
from common.messages import AlertNotice
from common.store import AlertRecord, Store
from dashboard.schemas import AlertOut


@dataclass(frozen=True, slots=True)
class DashboardState:
    site: SiteConfig
    store: Store
    bus: EventBus[AlertNotice]

    def camera(self, camera_id: str) -> CameraConfig | None:
        return next((cam for cam in self.site.cameras if cam.id == camera_id), None)

    def alert_out(self, alert: AlertRecord) -> AlertOut:
        camera = self.camera(alert.camera_id)
        name, area = (camera.name, camera.area) if camera else (alert.camera_id, "")
        return AlertOut.of(alert, name, area)


def _state(connection: HTTPConnection) -> DashboardState:
    state: DashboardState = connection.app.state.dashboard
    return state


State = Annotated[DashboardState, Depends(_state)]
