"""Logging in and out, the logged-in user, and what the login page shows of the site.

Password guessing is slowed per address and user name, never per user name alone, so
nobody can lock a user out (:mod:`dashboard.services.login_throttle`). A refused try is not
checked and not logged one by one: the refusals of one address and user name make one
``login.blocked`` row with their count (:func:`report_refusals`).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from common import audit
from common.audit import Action
from common.store import Store
from dashboard.auth import (
    COOKIE,
    CurrentSession,
    check_origin,
    clear_session_cookie,
    client_address,
    set_session_cookie,
)
from dashboard.schemas.accounts import ClosedOut, LanguageIn, LoginIn, MeOut
from dashboard.schemas.cameras import SiteOut
from dashboard.services.login_throttle import LoginThrottle, LoginThrottledError
from dashboard.state import State

router = APIRouter()


@router.get("/api/site")
def site(state: State) -> SiteOut:
    """Public: the login page shows the station's name in its default language."""
    info = state.site.site
    return SiteOut(name=info.name, language=state.site.dashboard.language, timezone=info.timezone)


def report_refusals(store: Store, logins: LoginThrottle, everything: bool = False) -> None:
    """One ``login.blocked`` row per address and user name whose count window closed (all
    counts with ``everything``, at shutdown): how many tries were refused, first to last."""
    for report in logins.due_reports(everything):
        detail: audit.Detail = {
            "count": report.count,
            "from": round(report.first_at),
            "to": round(report.last_at),
        }
        audit.record(
            store,
            Action.LOGIN_BLOCKED,
            "",
            target=report.username,
            detail=detail,
            address=report.address,
        )


@router.post("/api/login")
def login(body: LoginIn, request: Request, response: Response, state: State) -> MeOut:
    """Check the password and open a session (cookie); 401 on a wrong name or password,
    429 (with ``Retry-After``) while this address must wait before trying this name again,
    503 while the site is busy checking other passwords.

    A name that is no user is not written to the log (it may be a mistyped password).
    """
    check_origin(request)
    address = client_address(request)
    known_name = body.username if state.accounts.user(body.username) else ""
    report_refusals(state.store, state.logins)
    try:
        with state.logins.attempt(address, body.username) as attempt:
            user = state.accounts.authenticate(body.username, body.password)
            if user is None:
                attempt.failed()
    except LoginThrottledError as exc:
        if exc.status == status.HTTP_429_TOO_MANY_REQUESTS:
            state.logins.note_refusal(address, known_name)
        headers = {"Retry-After": str(exc.retry_after_s)}
        raise HTTPException(status_code=exc.status, detail=str(exc), headers=headers) from None
    if user is None:
        audit.record(state.store, Action.LOGIN_FAILED, "", target=known_name, address=address)
        raise HTTPException(status_code=401, detail="wrong user name or password")
    config = state.site.dashboard
    lifetime_s = config.session_hours * 3600
    idle_s = config.idle_timeout_minutes * 60
    token, session = state.accounts.open_session(user, min(idle_s, lifetime_s), address)
    audit.record(state.store, Action.LOGIN_OK, user.username, address=address)
    set_session_cookie(response, request, token, round(lifetime_s))
    return MeOut.of(session)


@router.post("/api/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: CurrentSession, request: Request, response: Response, state: State) -> None:
    """End this session on the server, so the cookie is worthless even if kept."""
    state.accounts.close_session(request.cookies[COOKIE])
    state.live.close_login(session.csrf_token)
    audit.record(state.store, Action.LOGOUT, session.user.username, address=client_address(request))
    clear_session_cookie(response, request)


@router.post("/api/logout-others")
def logout_others(session: CurrentSession, request: Request, state: State) -> ClosedOut:
    """End this user's sessions everywhere else; this one stays. Their open pages go to the
    login page at their next request, their sockets are closed (4401)."""
    closed = state.accounts.close_other_sessions(session.user, request.cookies[COOKIE])
    state.live.close_sessions_of(session.user.username, keep_login=session.csrf_token)
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
