"""Web Push subscriptions: which browsers (phones) get alerts, for whom, and which alerts.

A browser that turns push on gives the dashboard its ``PushSubscription``: an ``endpoint`` URL
at its push service (Google's, Mozilla's, Apple's...) and two keys, ``p256dh`` (the browser's
P-256 public key) and ``auth`` (a 16-byte secret), with which each message is encrypted for
that browser alone (RFC 8291). The endpoint names the browser, so it is unique here: when
another user turns push on in the same browser, the subscription becomes theirs.

Each subscription carries its user's filters (:class:`PushFilters`): cameras, alert kinds,
rule names (each empty for "all"), the least severity, and whether a push may link the alert's
picture. The user's areas are not copied here: they are checked at each send, so a user moved
to another area stops getting the old area's alerts at once.

Every change a user makes is audited in the transaction that makes it; a subscription the
push service says is gone (404/410) is removed and audited as the ``system``'s doing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from common import audit
from common.audit import Action
from common.messages import Severity

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS push_subscriptions (
    id            INTEGER PRIMARY KEY,
    endpoint      TEXT NOT NULL UNIQUE,
    p256dh        TEXT NOT NULL,
    auth          TEXT NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    created_at    REAL NOT NULL,
    cameras       TEXT NOT NULL DEFAULT '[]',
    kinds         TEXT NOT NULL DEFAULT '[]',
    rules         TEXT NOT NULL DEFAULT '[]',
    min_severity  TEXT NOT NULL DEFAULT 'info',
    allow_picture INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS push_subscriptions_user ON push_subscriptions (user_id);
"""

SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
"""Severities in order: a filter's ``min_severity`` lets through its own and those above."""

_COLUMNS = (
    "id, endpoint, p256dh, auth, user_id, created_at, cameras, kinds, rules, min_severity,"
    " allow_picture"
)


@dataclass(frozen=True, slots=True)
class PushFilters:
    """Which alerts a subscription wants; an empty tuple means every one the user may see."""

    cameras: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    min_severity: Severity = Severity.INFO
    allow_picture: bool = False
    """Whether a push may carry the link to the alert's crop (the picture itself never
    travels through the push service)."""

    def audit_detail(self) -> audit.Detail:
        """The filters as facts of an audit row."""
        return {
            "push_cameras": list(self.cameras),
            "push_kinds": list(self.kinds),
            "push_rules": list(self.rules),
            "min_severity": self.min_severity.value,
            "picture": self.allow_picture,
        }


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """One browser's subscription, as stored."""

    id: int
    endpoint: str
    p256dh: str
    auth: str
    user_id: int
    created_at: float
    filters: PushFilters

    @property
    def push_service(self) -> str:
        """The push service's host (``fcm.googleapis.com``...): what the audit and the page
        show instead of the endpoint, which is the browser's address there."""
        return urlsplit(self.endpoint).hostname or ""


def _subscription(row: sqlite3.Row) -> PushSubscription:
    filters = PushFilters(
        cameras=tuple(json.loads(row["cameras"])),
        kinds=tuple(json.loads(row["kinds"])),
        rules=tuple(json.loads(row["rules"])),
        min_severity=Severity(row["min_severity"]),
        allow_picture=bool(row["allow_picture"]),
    )
    return PushSubscription(
        id=row["id"],
        endpoint=row["endpoint"],
        p256dh=row["p256dh"],
        auth=row["auth"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        filters=filters,
    )


def _filter_values(filters: PushFilters) -> tuple[str, str, str, str, int]:
    return (
        json.dumps(list(filters.cameras)),
        json.dumps(list(filters.kinds)),
        json.dumps(list(filters.rules)),
        filters.min_severity.value,
        int(filters.allow_picture),
    )


def subscribe(
    store: Store,
    *,
    user_id: int,
    username: str,
    endpoint: str,
    p256dh: str,
    auth: str,
    filters: PushFilters,
    address: str = "",
) -> PushSubscription:
    """Add this browser's subscription for the user, or replace what its endpoint had (new
    keys, new filters, maybe another user); audited."""
    with store.transaction() as db:
        db.execute(
            "INSERT INTO push_subscriptions (endpoint, p256dh, auth, user_id, created_at,"
            " cameras, kinds, rules, min_severity, allow_picture) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(endpoint) DO UPDATE SET p256dh=excluded.p256dh, auth=excluded.auth,"
            " user_id=excluded.user_id, created_at=excluded.created_at,"
            " cameras=excluded.cameras, kinds=excluded.kinds, rules=excluded.rules,"
            " min_severity=excluded.min_severity, allow_picture=excluded.allow_picture",
            (endpoint, p256dh, auth, user_id, time.time(), *_filter_values(filters)),
        )
        row = db.execute(
            f"SELECT {_COLUMNS} FROM push_subscriptions WHERE endpoint = ?", (endpoint,)
        ).fetchone()
        made = _subscription(row)
        detail = filters.audit_detail() | {"push_service": made.push_service}
        audit.append(
            db,
            Action.PUSH_SUBSCRIBE,
            username,
            target=f"push {made.id}",
            detail=detail,
            address=address,
        )
    return made


def change_filters(
    store: Store,
    subscription_id: int,
    *,
    user_id: int,
    username: str,
    filters: PushFilters,
    address: str = "",
) -> PushSubscription | None:
    """New filters for one of the user's subscriptions; None if they have none of that id."""
    with store.transaction() as db:
        cursor = db.execute(
            "UPDATE push_subscriptions SET cameras=?, kinds=?, rules=?, min_severity=?,"
            " allow_picture=? WHERE id=? AND user_id=?",
            (*_filter_values(filters), subscription_id, user_id),
        )
        if cursor.rowcount == 0:
            return None
        audit.append(
            db,
            Action.PUSH_CHANGE,
            username,
            target=f"push {subscription_id}",
            detail=filters.audit_detail(),
            address=address,
        )
        row = db.execute(
            f"SELECT {_COLUMNS} FROM push_subscriptions WHERE id = ?", (subscription_id,)
        ).fetchone()
    return _subscription(row)


def unsubscribe(
    store: Store, subscription_id: int, *, user_id: int, username: str, address: str = ""
) -> bool:
    """Remove one of the user's subscriptions; False if they have none of that id."""
    with store.transaction() as db:
        cursor = db.execute(
            "DELETE FROM push_subscriptions WHERE id=? AND user_id=?", (subscription_id, user_id)
        )
        if cursor.rowcount == 0:
            return False
        audit.append(
            db,
            Action.PUSH_UNSUBSCRIBE,
            username,
            target=f"push {subscription_id}",
            address=address,
        )
    return True


def forget_gone(store: Store, subscription: PushSubscription, status: int) -> None:
    """The push service answered ``status`` (404, 410): the browser unsubscribed or the
    subscription expired. Remove it (if still there with these keys) and audit it."""
    with store.transaction() as db:
        cursor = db.execute(
            "DELETE FROM push_subscriptions WHERE id=? AND p256dh=?",
            (subscription.id, subscription.p256dh),
        )
        if cursor.rowcount:
            audit.append(
                db,
                Action.PUSH_GONE,
                "system",
                target=f"push {subscription.id}",
                detail={"push_service": subscription.push_service, "status": status},
            )


def of_user(store: Store, user_id: int) -> list[PushSubscription]:
    """The user's subscriptions, oldest first."""
    rows = store.read(
        f"SELECT {_COLUMNS} FROM push_subscriptions WHERE user_id = ? ORDER BY id", (user_id,)
    )
    return [_subscription(row) for row in rows]


def everyone(store: Store) -> list[PushSubscription]:
    """Every subscription (the sender matches each alert against them)."""
    rows = store.read(f"SELECT {_COLUMNS} FROM push_subscriptions ORDER BY id")
    return [_subscription(row) for row in rows]
