"""Users, for admins: list, add, change role/areas/password, disable.

Every change is in the audit log (written by :class:`~common.accounts.Accounts` in the
same transaction) and ends the changed user's sessions, so a demotion or a disabled
account takes effect at that user's next request, open WebSockets included.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from common.accounts import AccountError, Role, UnknownUserError, WeakPasswordError
from dashboard.auth import ADMIN_ONLY, AdminSession, client_address
from dashboard.refusals import Refusal
from dashboard.schemas.accounts import UserChangeIn, UserIn, UserOut
from dashboard.state import DashboardState, State

router = APIRouter()


def _known_areas(state: DashboardState, areas: list[str]) -> tuple[str, ...]:
    """The areas if every one is an area of a camera (a typo would hide every camera)."""
    known = {camera.area for camera in state.site.cameras}
    unknown = sorted(set(areas) - known)
    if unknown:
        raise HTTPException(status_code=400, detail=f"no camera is in area {unknown[0]!r}")
    return tuple(areas)


@router.get("/api/users", dependencies=[ADMIN_ONLY])
def list_users(state: State) -> list[UserOut]:
    return [UserOut.of(user) for user in state.accounts.users()]


@router.post("/api/users", status_code=status.HTTP_201_CREATED)
def add_user(body: UserIn, state: State, session: AdminSession, request: Request) -> UserOut:
    """400 for a bad name, a weak password (a refusal with a code: ``password_short``,
    ``password_common``, ``password_username``) or an unknown area; 409 for a taken name."""
    if state.accounts.user(body.username) is not None:
        raise HTTPException(status_code=409, detail=f"user {body.username!r} exists already")
    try:
        user = state.accounts.add_user(
            body.username,
            body.password,
            body.role,
            actor=session.user.username,
            areas=_known_areas(state, body.areas),
            language=body.language,
            address=client_address(request),
        )
    except WeakPasswordError as exc:
        raise Refusal(400, exc.code, str(exc)) from None
    except AccountError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return UserOut.of(user)


@router.patch("/api/users/{username}")
def change_user(
    username: str, body: UserChangeIn, state: State, session: AdminSession, request: Request
) -> UserOut:
    """An admin cannot demote or disable themself (so the site keeps an admin)."""
    if state.accounts.user(username) is None:
        raise HTTPException(status_code=404, detail="no such user")
    is_self = username == session.user.username
    if is_self and (body.disabled or body.role not in (None, Role.ADMIN)):
        raise HTTPException(status_code=409, detail="you cannot demote or disable yourself")
    actor, address = session.user.username, client_address(request)
    try:
        if body.password is not None:
            state.accounts.set_password(username, body.password, actor=actor, address=address)
        areas = None if body.areas is None else _known_areas(state, body.areas)
        if body.role is not None or areas is not None or body.disabled is not None:
            state.accounts.change_user(
                username,
                actor=actor,
                role=body.role,
                areas=areas,
                disabled=body.disabled,
                address=address,
            )
    except UnknownUserError:
        raise HTTPException(status_code=404, detail="no such user") from None
    except WeakPasswordError as exc:
        raise Refusal(400, exc.code, str(exc)) from None
    except AccountError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    state.live.close_sessions_of(username)  # its logins ended: so do its live views
    return UserOut.of(state.accounts.require(username))
