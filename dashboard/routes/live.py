"""Live view: the WebRTC offer/answer exchange for one camera.

422 for an offer that cannot be served (checked before the camera is opened), 429 past the
live views allowed per user or per site, 502 when the camera cannot be opened.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from common import audit
from common.audit import Action
from common.credentials import MissingCredentialsError, url_with_login
from dashboard.auth import CurrentSession, client_address
from dashboard.schemas.live import SessionDescription
from dashboard.services.camera_access import find_camera, may_see
from dashboard.services.live import LiveLimitError, LiveViewError, OfferError, Viewer
from dashboard.state import State

router = APIRouter()


@router.post("/api/cameras/{camera_id}/webrtc")
async def live_offer(
    state: State,
    session: CurrentSession,
    request: Request,
    camera_id: str,
    offer: SessionDescription,
) -> SessionDescription:
    """Answer a browser's offer to watch ``camera_id`` live; start and end are audited."""
    camera = find_camera(state.site, camera_id)
    if camera is None or not may_see(state.site, session.user, camera_id):
        raise HTTPException(status_code=404, detail="no such camera")
    if offer.type != "offer":
        raise HTTPException(status_code=422, detail="expected an offer")
    login = camera.credentials
    user = session.user.username
    try:
        url = (
            ""  # the node that holds the camera reads it
            if state.live.relays_nodes
            else url_with_login(
                camera.detect_url,
                login.username_env if login else None,
                login.password_env if login else None,
            )
        )
        answer = await state.live.answer(
            Viewer(user, session.csrf_token, camera_id),
            url,
            offer.sdp,
            on_end=lambda: audit.record(state.store, Action.LIVE_STOP, user, target=camera_id),
        )
    except OfferError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    except LiveLimitError as exc:
        raise HTTPException(status_code=status.HTTP_429_TOO_MANY_REQUESTS, detail=str(exc)) from exc
    except (LiveViewError, MissingCredentialsError) as exc:
        raise HTTPException(status_code=502, detail=str(exc)) from exc
    audit.record(
        state.store, Action.LIVE_START, user, target=camera_id, address=client_address(request)
    )
    return SessionDescription(sdp=answer.sdp, type=answer.type)
