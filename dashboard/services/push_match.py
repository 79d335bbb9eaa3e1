"""Which subscriptions an alert goes to, and what their push says.

An alert goes to a subscription when its user is still enabled, may see the alert's camera
(their areas, checked now, not when they subscribed) and the subscription's filters let it
through: the camera (a site-wide alert, about analysis or the disk, passes any camera choice:
it concerns every camera), the kind, the rule name, and the least severity.

The push says what a lock screen shows: camera, rule, kind, severity, time (Unix seconds and
the site's wall-clock text, ``dd/mm/yyyy HH:mm:ss``) and the link that opens the alert on the
alerts page. It carries no picture: with the user's leave it carries the *address* of the
alert's crop, which the browser fetches from the dashboard with the user's session, so the
picture never passes through the push service and every fetch of it is audited like any other
(``footage.picture``). A push stays far below the 4 kB that push services accept.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from common.accounts import User
from common.alert_query import SITE_WIDE
from common.alert_rows import AlertRecord
from common.config import SiteConfig
from common.messages import Severity
from common.push_subscriptions import SEVERITY_RANK, PushSubscription
from dashboard.services.camera_access import may_see

MAX_PAYLOAD_BYTES = 3000
"""What a push may carry at most: 4096 bytes less the encryption's header and padding."""


@dataclass(frozen=True, slots=True)
class Push:
    """One push to send: to which subscription, and its JSON text."""

    subscription: PushSubscription
    payload: str
    urgent: bool


def alert_link(alert_id: int) -> str:
    """The page that shows the alert: the alerts page opens it (:file:`static/pages/alerts.js`)."""
    return f"/?alert={alert_id}"


def site_time(seconds: float, timezone: str) -> str:
    """``seconds`` on the site's wall clock, written the way the pages write it."""
    moment = dt.datetime.fromtimestamp(seconds, ZoneInfo(timezone))
    return moment.strftime("%d/%m/%Y %H:%M:%S")


def wants(subscription: PushSubscription, alert: AlertRecord) -> bool:
    """Whether the subscription's filters let the alert through (areas aside)."""
    filters = subscription.filters
    if filters.cameras and alert.camera_id != SITE_WIDE and alert.camera_id not in filters.cameras:
        return False
    if filters.kinds and alert.kind not in filters.kinds:
        return False
    if filters.rules and alert.rule not in filters.rules:
        return False
    return severity_rank(alert.severity) >= SEVERITY_RANK[filters.min_severity]


def severity_rank(severity: str) -> int:
    """The rank of a stored alert's severity; one this version does not know counts as the
    highest, so that a filter never hides it."""
    known = {level.value: rank for level, rank in SEVERITY_RANK.items()}
    return known.get(severity, max(known.values()))


def payload(alert: AlertRecord, site: SiteConfig, with_picture: bool) -> str:
    """The push's JSON text for ``alert``."""
    camera = next((cam for cam in site.cameras if cam.id == alert.camera_id), None)
    if camera is not None:
        camera_name = camera.name
    else:  # a site-wide alert (analysis down, disk low) is about the whole site
        camera_name = site.site.name if alert.camera_id == SITE_WIDE else alert.camera_id
    body: dict[str, object] = {
        "alert_id": alert.id,
        "camera_id": alert.camera_id,
        "camera_name": camera_name,
        "rule": alert.rule,
        "kind": alert.kind,
        "severity": alert.severity,
        "at": alert.started_at,
        "at_text": site_time(alert.started_at, site.site.timezone),
        "url": alert_link(alert.id),
    }
    if with_picture:
        body["picture"] = f"/api/alerts/{alert.id}/crop.jpg"
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_PAYLOAD_BYTES:  # only a very long camera or rule name
        raise ValueError(f"alert {alert.id}: its push would be {len(text.encode())} bytes")
    return text


def pushes_for(
    alert: AlertRecord,
    subscriptions: Iterable[PushSubscription],
    users: dict[int, User],
    site: SiteConfig,
) -> list[Push]:
    """The pushes ``alert`` makes: one per subscription whose user may see it and wants it."""
    pushes = []
    for subscription in subscriptions:
        user = users.get(subscription.user_id)
        if user is None or user.disabled or not may_see(site, user, alert.camera_id):
            continue
        if not wants(subscription, alert):
            continue
        text = payload(alert, site, subscription.filters.allow_picture)
        pushes.append(Push(subscription, text, alert.severity == Severity.CRITICAL.value))
    return pushes
