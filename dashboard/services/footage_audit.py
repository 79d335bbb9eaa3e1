"""The audit row of a footage fetch: a recording, an alert's clip or picture, an export.

Every fetch of footage is audited, but a video player fetches one file in many byte ranges
while it plays and seeks, and a page fetches the same pictures again at every refresh: one
row per user and item per few minutes (:func:`common.audit.record_once`) says who saw what
and when, without a row per request.
"""

from __future__ import annotations

from fastapi import Request

from common import audit
from common.accounts import Session
from common.audit import Action
from dashboard.auth import client_address
from dashboard.state import DashboardState


def audit_footage(
    state: DashboardState,
    session: Session,
    request: Request,
    *,
    action: Action,
    target: str,
    detail: audit.Detail,
) -> None:
    """Record that ``session``'s user fetched the item (``target`` names its camera or
    cameras, ``detail`` the item), unless the same fetch was recorded a few minutes ago."""
    audit.record_once(
        state.store,
        action,
        session.user.username,
        target=target,
        detail=detail,
        address=client_address(request),
    )
