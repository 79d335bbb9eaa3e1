"""Health for machines: liveness, readiness and the Prometheus exposition."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from dashboard.metrics import exposition

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The dashboard process answers."""
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Every matthan process's metrics, for Prometheus."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)
