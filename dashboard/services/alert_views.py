"""Alerts as the pages show them: each with its camera's name and area, its reviews and the
plate of its vehicle, in a query or two for a whole page."""

from __future__ import annotations

from common.alert_reviews import reviews_of
from common.alert_rows import AlertRecord
from common.config import SiteConfig
from common.store import Store
from dashboard.schemas.alerts import AlertOut, ReviewOut
from dashboard.services.alert_plates import alert_plates
from dashboard.services.camera_access import find_camera


def alerts_out(site: SiteConfig, store: Store, alerts: list[AlertRecord]) -> list[AlertOut]:
    """``alerts`` in their order, as the page's cards."""
    reviews = reviews_of(store, [alert.id for alert in alerts])
    plates = alert_plates(store, alerts)
    out = []
    for alert in alerts:
        camera = find_camera(site, alert.camera_id)
        name, area = (camera.name, camera.area) if camera else (alert.camera_id, "")
        alert_reviews = [ReviewOut.of(review) for review in reviews.get(alert.id, [])]
        out.append(AlertOut.of(alert, name, area, alert_reviews, plates.get(alert.id)))
    return out
