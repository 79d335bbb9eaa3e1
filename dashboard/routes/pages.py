"""The pages: HTML (the shared head and each page's body, see
:mod:`dashboard.services.page_shell`) whose scripts fill them from the API.

Every page but the login page needs a session (see :data:`dashboard.auth.PageSession`);
the audit and user pages need an admin. The pages carry no data themselves, so a page
served from the browser's cache shows nothing until the API lets the user in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from dashboard.auth import ADMIN_PAGE, PAGE, connection_session
from dashboard.services.page_shell import STATIC, page
from dashboard.state import State

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, state: State) -> Response:
    """Public; someone already logged in goes straight to the alerts."""
    if connection_session(state, request) is not None:
        return RedirectResponse("/", status_code=303)
    return page("login")


@router.get("/", dependencies=[PAGE])
def alerts_page() -> HTMLResponse:
    return page("alerts")


@router.get("/cameras", dependencies=[PAGE])
def wall_page() -> HTMLResponse:
    return page("cameras")


@router.get("/cameras/{camera_id}", dependencies=[PAGE])
def camera_page() -> HTMLResponse:
    """The camera id in the path is read by the page's script."""
    return page("camera")


@router.get("/audit", dependencies=[ADMIN_PAGE])
def audit_page() -> HTMLResponse:
    return page("audit")


@router.get("/users", dependencies=[ADMIN_PAGE])
def users_page() -> HTMLResponse:
    return page("users")


@router.get("/reanalysis", dependencies=[PAGE])
def reanalysis_page() -> HTMLResponse:
    """Every user sees the jobs and their findings; the forms are for operators."""
    return page("reanalysis")


@router.get("/plates", dependencies=[PAGE])
def plates_page() -> HTMLResponse:
    """Every user searches the plates read and sees the watch list; operators change it."""
    return page("plates")


@router.get("/search", dependencies=[PAGE])
def search_page() -> HTMLResponse:
    """Investigation search over every camera the user sees (any role)."""
    return page("search")


@router.get("/favicon.ico")
def icon() -> FileResponse:
    """Public: the browser asks for it on every page, before anyone logs in (an eye: Mắt Thần)."""
    return FileResponse(STATIC / "icon.svg", media_type="image/svg+xml")
