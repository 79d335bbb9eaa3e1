"""Logging in and out, the logged-in user, and what the login page shows of the site.

Failed logins are counted from the audit log itself: more than
``dashboard.login_max_failures`` for one user name, or from one address, within
``dashboard.login_window_s`` answer 429 without even checking the password.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel

from common import audit
from common.audit import Action
from dashboard.auth import (
    COOKIE,
    CurrentSession,
    check_origin,
    clear_session_cookie,
    client_address,
    set_session_cookie,
)
from dashboard.schemas import SiteOut
from dashboard.schemas_accounts import LanguageIn, LoginIn, MeOut
from dashboard.state import DashboardState, State

router = APIRouter()


@router.get("/api/site")
def site(state: State) -> SiteOut:
    """Public: the login page shows the station's name in its default language."""
    info = state.site.site
    return SiteOut(name=info.name, language=state.site.dashboard.language, timezone=info.timezone)


def _refuse_if_blocked(state: DashboardState, known_name: str, address: str) -> None:
    config = state.site.dashboard
    since = time.time() - config.login_window_s
    by_user, by_address = audit.login_failures(state.store, since, known_name, address)
    if max(by_user if known_name else 0, by_address) >= config.login_max_failures:
        audit.record(state.store, Action.LOGIN_BLOCKED, "", target=known_name, address=address)
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many failed logins; try again later",
            headers={"Retry-After": str(round(config.login_window_s))},
        )


@router.post("/api/login")
def login(body: LoginIn, request: Request, response: Response, state: State) -> MeOut:
    """Check the password and open a session (cookie); 401 on a wrong name or password.

    A name that is no user is not written to the log (it may be a mistyped password).
    """
    check_origin(request)
    address = client_address(request)
    known_name = body.username if state.accounts.user(body.username) else ""
    _refuse_if_blocked(state, known_name, address)
    user = state.accounts.authenticate(body.username, body.password)
    if user is None:
        audit.record(state.store, Action.LOGIN_FAILED, "", target=known_name, address=address)
        raise HTTPException(status_code=401, detail="wrong user name or password")
    lifetime_s = state.site.dashboard.session_hours * 3600
    token, session = state.accounts.open_session(user, lifetime_s, address)
    audit.record(state.store, Action.LOGIN_OK, user.username, address=address)
    set_session_cookie(response, request, token, round(lifetime_s))
    return MeOut.of(session)


@router.post("/api/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: CurrentSession, request: Request, response: Response, state: State) -> None:
    """End this session on the server, so the cookie is worthless even if kept."""
    state.accounts.close_session(request.cookies[COOKIE])
    audit.record(state.store, Action.LOGOUT, session.user.username, address=client_address(request))
    clear_session_cookie(response, request)


class ClosedOut(BaseModel):
    """How many sessions were ended."""

    closed: int


@router.post("/api/logout-others")
def logout_others(session: CurrentSession, request: Request, state: State) -> ClosedOut:
    """End this user's sessions everywhere else; this one stays. Their open pages go to the
    login page at their next request, their sockets are closed (4401)."""
    closed = state.accounts.close_other_sessions(session.user, request.cookies[COOKIE])
    audit.record(
        state.store,
        Action.LOGOUT_OTHERS,
        session.user.username,
        detail={"closed": closed},
        address=client_address(request),
    )
    return ClosedOut(closed=closed)


@router.get("/api/me")
def me(session: CurrentSession) -> MeOut:
    return MeOut.of(session)


@router.put("/api/me/language", status_code=status.HTTP_204_NO_CONTENT)
def set_language(body: LanguageIn, session: CurrentSession, state: State) -> None:
    """Remember the user's language for every page and every later login."""
    state.accounts.set_language(session.user, body.language)
