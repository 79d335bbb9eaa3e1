"""The district hub's web app: the API of :mod:`dashboard.hub.routes`, its one page
(``static/pages/hub.*`` in the shared shell, with the station's style sheet) and ``/metrics``
for Prometheus (its scrape token, or an admin's session)."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common.accounts import Role
from dashboard.app import security_headers
from dashboard.health_access import bearer_matches
from dashboard.hub.routes.hub import hub_session, router
from dashboard.hub.state import HubState
from dashboard.services.page_shell import STATIC, page


def create_hub_app(state: HubState) -> FastAPI:
    app = FastAPI(title="matthan hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = state
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.middleware("http")(security_headers)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/hub", status_code=307)

    @app.get("/hub", include_in_schema=False)
    def hub_page() -> HTMLResponse:
        return page("hub")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """The scrape token (``dashboard.metrics_token_env``) or an admin's session, as at a
        station: the hub's metrics name its stations and how far behind each is."""
        if not bearer_matches(request, state.config.dashboard.metrics_token_env):
            session = hub_session(request, state)  # 401 without one
            if session.user.role is not Role.ADMIN:
                raise HTTPException(status_code=403, detail="admins only")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
