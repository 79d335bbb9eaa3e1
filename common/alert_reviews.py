"""Operators acknowledge and resolve alerts, each time with a note: who, when, what.

An alert moves ``new`` -> ``acknowledged`` -> ``resolved`` (or straight to resolved). The
new state, the review row and the audit row are written in one transaction, so the
alert's state never disagrees with its history. Reviews are append-only like the audit
log (see :mod:`common.audit`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from common import audit
from common.accounts import User
from common.audit import Action
from common.store import Store


class ReviewAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"

    @property
    def state(self) -> str:
        """The alert's state after this action."""
        return "acknowledged" if self is ReviewAction.ACKNOWLEDGE else "resolved"

    @property
    def allowed_from(self) -> tuple[str, ...]:
        return ("new",) if self is ReviewAction.ACKNOWLEDGE else ("new", "acknowledged")

    @property
    def audit_action(self) -> Action:
        return (
            Action.ALERT_ACKNOWLEDGE if self is ReviewAction.ACKNOWLEDGE else Action.ALERT_RESOLVE
        )


class ReviewConflictError(ValueError):
    """The alert is not in a state this action applies to (e.g. resolved already)."""


class UnknownAlertError(LookupError):
    """No alert has this id."""


@dataclass(frozen=True, slots=True)
class Review:
    alert_id: int
    action: str
    username: str
    note: str
    at: float


def review_alert(
    store: Store, alert_id: int, action: ReviewAction, *, user: User, note: str, address: str
) -> str:
    """Apply ``action`` with ``note`` as ``user``; returns the alert's camera id."""
    with store.transaction() as db:
        row = db.execute(
            "SELECT state, camera_id FROM alerts WHERE id=? AND job_id IS NULL", (alert_id,)
        ).fetchone()
        if row is None:
            raise UnknownAlertError(f"no alert {alert_id}")
        if row["state"] not in action.allowed_from:
            raise ReviewConflictError(f"alert {alert_id} is {row['state']}")
        db.execute("UPDATE alerts SET state=? WHERE id=?", (action.state, alert_id))
        db.execute(
            "INSERT INTO alert_reviews (alert_id, action, username, note, at) VALUES (?,?,?,?,?)",
            (alert_id, action.value, user.username, note, time.time()),
        )
        target = f"alert {alert_id}"
        audit.append(
            db,
            action.audit_action,
            user.username,
            target=target,
            detail={"note": note},
            address=address,
        )
    camera_id: str = row["camera_id"]
    return camera_id


def reviews_of(store: Store, alert_ids: list[int]) -> dict[int, list[Review]]:
    """The reviews of these alerts, oldest first, keyed by alert id."""
    if not alert_ids:
        return {}
    marks = ",".join("?" * len(alert_ids))
    rows = store.read(
        "SELECT alert_id, action, username, note, at FROM alert_reviews"
        f" WHERE alert_id IN ({marks}) ORDER BY id",
        tuple(alert_ids),
    )
    found: dict[int, list[Review]] = {}
    for row in rows:
        found.setdefault(row["alert_id"], []).append(Review(**dict(row)))
    return found
