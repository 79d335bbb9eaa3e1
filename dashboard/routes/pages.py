"""The pages: static HTML shells whose scripts fill them from the API.

Every page but the login page needs a session (see :data:`dashboard.auth.PageSession`);
the audit and user pages need an admin. The pages carry no data themselves, so a page
served from the browser's cache shows nothing until the API lets the user in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from dashboard.auth import ADMIN_PAGE, PAGE, connection_session
from dashboard.services.page_shell import STATIC, page
from dashboard.state import State

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, state: State) -> Response:
    """Public; someone already logged in goes straight to the alerts."""
    if connection_session(state, request) is not None:
        return RedirectResponse("/", status_code=303)
    return page("login.html")


@router.get("/", dependencies=[PAGE])
def alerts_page() -> FileResponse:
    return page("index.html")


@router.get("/cameras", dependencies=[PAGE])
def wall_page() -> FileResponse:
    return page("wall.html")


@router.get("/cameras/{camera_id}", dependencies=[PAGE])
def camera_page() -> FileResponse:
    """The camera id in the path is read by the page's script."""
    return page("camera.html")


@router.get("/audit", dependencies=[ADMIN_PAGE])
def audit_page() -> FileResponse:
    return page("audit.html")


@router.get("/users", dependencies=[ADMIN_PAGE])
def users_page() -> FileResponse:
    return page("users.html")


@router.get("/reanalysis", dependencies=[PAGE])
def reanalysis_page() -> FileResponse:
    """Every user sees the jobs and their findings; the forms are for operators."""
    return page("reanalysis.html")


@router.get("/plates", dependencies=[PAGE])
def plates_page() -> FileResponse:
    """Every user searches the plates read and sees the watch list; operators change it."""
    return page("plates.html")


@router.get("/search", dependencies=[PAGE])
def search_page() -> FileResponse:
    """Investigation search over every camera the user sees (any role)."""
    return page("search.html")


@router.get("/favicon.ico")
def icon() -> FileResponse:
    """Public: the browser asks for it on every page, before anyone logs in (an eye: Mắt Thần)."""
    return FileResponse(STATIC / "icon.svg", media_type="image/svg+xml")
