"""Stored pictures (alert snapshots and crops, plate crops, sightings) as HTTP answers."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import Response


def jpeg_response(data: bytes | None) -> Response:
    """A stored picture, or 404; never kept by the browser (:mod:`dashboard.no_store`)."""
    if data is None:
        raise HTTPException(status_code=404, detail="no such picture")
    headers = {"Cache-Control": "no-store"}
    return Response(data, media_type="image/jpeg", headers=headers)
