"""The HTTP routes: one router module per resource, all included by :mod:`dashboard.app`.

``ROUTERS`` is the order they are included in; health decides its own access
(:mod:`dashboard.health_access`), every other router names its own dependencies.
"""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.routes import (
    alerts,
    audit,
    cameras,
    case_exports,
    cases,
    detections,
    export,
    feed,
    health,
    holds,
    live,
    pages,
    plates,
    push,
    reanalysis,
    replay,
    session,
    sightings,
    users,
    wall,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    session.router,
    pages.router,
    alerts.router,
    feed.router,
    cameras.router,
    users.router,
    audit.router,
    live.router,
    detections.router,
    replay.router,
    export.router,
    holds.router,
    reanalysis.router,
    cases.router,
    case_exports.router,
    push.router,
    plates.router,
    sightings.router,
    wall.router,
)
