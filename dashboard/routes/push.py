"""Alerts on phones: the notifications page, the service worker, and each user's push
subscriptions (:mod:`common.push_subscriptions`).

Every logged-in user, whatever their role, may turn push on for their browsers and choose
what comes: cameras and rules of their own areas only (another area's are answered 404, as
if they did not exist), kinds, the least severity, and whether a push may link the picture.
Each change is audited. The service worker is public: it is a script with no data in it, and
a browser fetches it again on its own, outside any page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from starlette.requests import HTTPConnection

from common import push_subscriptions
from common.accounts import User
from dashboard.auth import PAGE, CurrentSession, client_address
from dashboard.schemas.ids import RowId
from dashboard.schemas.push import FiltersIn, KeyOut, PushIn, SubscriptionOut
from dashboard.services.camera_access import visible_cameras
from dashboard.services.page_shell import STATIC, page
from dashboard.services.push_sender import PushSender
from dashboard.state import DashboardState, State

router = APIRouter()


def _sender(connection: HTTPConnection) -> PushSender:
    sender: PushSender = connection.app.state.push
    return sender


Sender = Annotated[PushSender, Depends(_sender)]


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    """Served from the root so that its scope is the whole dashboard (``/``)."""
    headers = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
    return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers=headers)


@router.get("/notifications", dependencies=[PAGE], include_in_schema=False)
def notifications_page() -> HTMLResponse:
    return page("notifications")


@router.get("/api/push/key")
def public_key(sender: Sender, _session: CurrentSession) -> KeyOut:
    """The dashboard's VAPID public key, for ``pushManager.subscribe``."""
    return KeyOut(public_key=sender.keys.public_key)


@router.get("/api/push/subscriptions")
def my_subscriptions(state: State, session: CurrentSession) -> list[SubscriptionOut]:
    """The user's browsers that get pushes, oldest first."""
    mine = push_subscriptions.of_user(state.store, session.user.id)
    return [SubscriptionOut.of(subscription) for subscription in mine]


def _check_scope(state: DashboardState, user: User, filters: FiltersIn) -> None:
    """404 for a camera, or a rule name, of no camera the user may see."""
    visible = visible_cameras(state.site, user)
    cameras = {camera.id for camera in visible}
    unknown = [camera for camera in filters.cameras if camera not in cameras]
    if unknown:
        raise HTTPException(status_code=404, detail=f"no such camera: {unknown[0]}")
    rules = {rule.name for camera in visible for rule in camera.rules}
    unknown = [rule for rule in filters.rules if rule not in rules]
    if unknown:
        raise HTTPException(status_code=404, detail=f"no such rule: {unknown[0]}")


@router.put("/api/push/subscription")
def subscribe(
    state: State, sender: Sender, session: CurrentSession, request: Request, body: PushIn
) -> SubscriptionOut:
    """Turn push on for this browser (or replace its keys and filters): keyed by endpoint."""
    endpoint = body.subscription
    if not endpoint.is_https() and not (
        endpoint.is_plain_loopback() and sender.policy.allow_http_loopback
    ):
        raise HTTPException(status_code=422, detail="the push endpoint must be an https URL")
    _check_scope(state, session.user, body.filters)
    made = push_subscriptions.subscribe(
        state.store,
        user_id=session.user.id,
        username=session.user.username,
        endpoint=endpoint.endpoint,
        p256dh=endpoint.keys.p256dh,
        auth=endpoint.keys.auth,
        filters=body.filters.filters(),
        address=client_address(request),
    )
    return SubscriptionOut.of(made)


@router.patch("/api/push/subscriptions/{subscription_id}")
def change_filters(
    state: State,
    session: CurrentSession,
    request: Request,
    subscription_id: RowId,
    body: FiltersIn,
) -> SubscriptionOut:
    """New filters for one of the user's browsers."""
    _check_scope(state, session.user, body)
    changed = push_subscriptions.change_filters(
        state.store,
        subscription_id,
        user_id=session.user.id,
        username=session.user.username,
        filters=body.filters(),
        address=client_address(request),
    )
    if changed is None:
        raise HTTPException(status_code=404, detail="no such subscription")
    return SubscriptionOut.of(changed)


@router.delete("/api/push/subscriptions/{subscription_id}", status_code=204)
def unsubscribe(
    state: State, session: CurrentSession, request: Request, subscription_id: RowId
) -> Response:
    """Stop pushes to one of the user's browsers."""
    removed = push_subscriptions.unsubscribe(
        state.store,
        subscription_id,
        user_id=session.user.id,
        username=session.user.username,
        address=client_address(request),
    )
    if not removed:
        raise HTTPException(status_code=404, detail="no such subscription")
    return Response(status_code=204)
