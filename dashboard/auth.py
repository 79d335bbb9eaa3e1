"""Who is asking: the session cookie, roles, and CSRF checks, as typed dependencies.

A route states what it needs in its signature: ``CurrentSession`` (any logged-in user),
``OperatorSession`` or ``AdminSession``; pages use ``PageSession``/``AdminPage``, which
send a visitor without a session to the login page instead of answering 401.

Cross-site request forgery is stopped three times over: the cookie is
``SameSite=Strict`` (another site's page cannot send it), every state-changing request
must carry the session's CSRF token in the ``X-CSRF-Token`` header (a form on another
site cannot set headers), and a browser's ``Origin`` header must name this host.

A session ends ``dashboard.session_hours`` after login at the latest, and sooner when no
request has used it for ``dashboard.idle_timeout_minutes`` (a browser closed or a desk
left without logging out): every request through :func:`connection_session` keeps it alive.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response
from starlette.requests import HTTPConnection

from common.accounts import Role, Session
from dashboard.state import DashboardState, State

COOKIE = "matthan_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequiredError(Exception):
    """A page was asked for without a session; the app redirects to the login page."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def client_address(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else ""


def same_origin(connection: HTTPConnection) -> bool:
    """True unless a browser says the request comes from a page of another host.

    Clients that send no ``Origin`` (scripts) pass here; the CSRF token still guards them.
    """
    origin = connection.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == connection.headers.get("host")


def check_origin(request: Request) -> None:
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-origin request refused")


def connection_session(state: DashboardState, connection: HTTPConnection) -> Session | None:
    """The live session named by the connection's cookie, if any; this use of it keeps it
    alive for another ``dashboard.idle_timeout_minutes`` (an open page's requests do)."""
    token = connection.cookies.get(COOKIE)
    if not token:
        return None
    config = state.site.dashboard
    idle_s, lifetime_s = config.idle_timeout_minutes * 60, config.session_hours * 3600
    return state.accounts.touch_session(token, idle_s, lifetime_s)


def api_session(request: Request, state: State) -> Session:
    """401 without a live session; 403 for a change without the CSRF token or from afar."""
    session = connection_session(state, request)
    if session is None:
        raise HTTPException(status_code=401, detail="login required")
    if request.method not in SAFE_METHODS:
        check_origin(request)
        token = request.headers.get(CSRF_HEADER, "").encode("latin-1")
        if not hmac.compare_digest(token, session.csrf_token.encode()):
            raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
    return session


CurrentSession = Annotated[Session, Depends(api_session)]


def _role(needed: Role) -> Callable[[Session], Session]:
    def check(session: CurrentSession) -> Session:
        if not session.user.role.allows(needed):
            raise HTTPException(status_code=403, detail=f"needs the {needed} role")
        return session

    return check


OperatorSession = Annotated[Session, Depends(_role(Role.OPERATOR))]
AdminSession = Annotated[Session, Depends(_role(Role.ADMIN))]
ADMIN_ONLY = Depends(_role(Role.ADMIN))
"""For ``dependencies=[...]`` of a route that needs an admin but not the session itself."""


def page_session(request: Request, state: State) -> Session:
    session = connection_session(state, request)
    if session is None:
        raise LoginRequiredError(request.url.path)
    return session


PageSession = Annotated[Session, Depends(page_session)]
PAGE = Depends(page_session)


def admin_page(session: PageSession) -> Session:
    if session.user.role is not Role.ADMIN:
        raise HTTPException(status_code=403, detail="needs the admin role")
    return session


ADMIN_PAGE = Depends(admin_page)


def set_session_cookie(response: Response, request: Request, token: str, max_age_s: int) -> None:
    """HttpOnly (no script reads it), SameSite=Strict, and Secure when served over https."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
