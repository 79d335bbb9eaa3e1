"""What the app's lifespan owns and hands to the routes as a typed dependency."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from common.accounts import Accounts, User
from common.alert_query import SITE_WIDE
from common.alert_reviews import reviews_of
from common.bus import EventBus
from common.config import CameraConfig, SiteConfig
from common.messages import AlertNotice
from common.store import AlertRecord, Store
from dashboard.alert_plates import alert_plates
from dashboard.live import LiveRelay
from dashboard.login_throttle import LoginThrottle
from dashboard.overlay import LiveDetections
from dashboard.schemas import AlertOut, ReviewOut
from dashboard.thumbnails import Thumbnails
from dashboard.upload_limits import UploadGate


@dataclass(frozen=True, slots=True)
class DashboardState:
    site: SiteConfig
    store: Store
    bus: EventBus[AlertNotice]
    accounts: Accounts
    thumbnails: Thumbnails
    live: LiveRelay
    detections: LiveDetections
    uploads: UploadGate = field(default_factory=UploadGate)
    logins: LoginThrottle = field(default_factory=LoginThrottle)

    def camera(self, camera_id: str) -> CameraConfig | None:
        return next((cam for cam in self.site.cameras if cam.id == camera_id), None)

    def visible_cameras(self, user: User) -> list[CameraConfig]:
        """The cameras of the user's areas (all of them for an unscoped user)."""
        return [camera for camera in self.site.cameras if user.sees_area(camera.area)]

    def may_see(self, user: User, camera_id: str) -> bool:
        """Whether the user sees this camera's alerts; a site-wide alert (analysis down,
        disk low) concerns every area, so every user sees it."""
        if camera_id == SITE_WIDE:
            return True
        camera = self.camera(camera_id)
        return user.sees_area(camera.area if camera else "")

    def alerts_out(self, alerts: list[AlertRecord]) -> list[AlertOut]:
        """Alerts as the page shows them, each with its reviews and the plate of its
        vehicle (a query or two for all)."""
        reviews = reviews_of(self.store, [alert.id for alert in alerts])
        plates = alert_plates(self.store, alerts)
        out = []
        for alert in alerts:
            camera = self.camera(alert.camera_id)
            name, area = (camera.name, camera.area) if camera else (alert.camera_id, "")
            alert_reviews = [ReviewOut.of(review) for review in reviews.get(alert.id, [])]
            out.append(AlertOut.of(alert, name, area, alert_reviews, plates.get(alert.id)))
        return out


def _state(connection: HTTPConnection) -> DashboardState:
    state: DashboardState = connection.app.state.dashboard
    return state


State = Annotated[DashboardState, Depends(_state)]
