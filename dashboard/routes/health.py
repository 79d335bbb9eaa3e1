"""Health for machines: liveness, readiness and the Prometheus exposition.

- ``/healthz``: the dashboard process answers (a liveness probe; it reads and says nothing).
- ``/readyz``: 200 only when the store answers and every supervised role (``ingest-N``,
  ``detect``; ``alerts-in`` on a multi-machine site's station) beat within
  :data:`STALE_AFTER_S`; otherwise 503. Both carry the same JSON, which lists each role with
  its state and says in ``reasons`` what is wrong; a caller without a login or the token gets
  only ``{"ready": ...}``.
- ``/metrics``: every matthan process's metrics for Prometheus (see :mod:`dashboard.metrics`),
  for the scrape token or an admin only.

Who gets what is decided in :mod:`dashboard.health_access`.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse, Response

from common import cluster_nodes
from common.config import SiteConfig
from common.heartbeat import BEAT_EVERY_S, heartbeat_ages
from common.roles import DETECT_ROLE, INTAKE_ROLE, REANALYSIS_ROLE, ingest_role, shard
from common.store import Store
from dashboard.health_access import Caller, HealthCaller
from dashboard.metrics import ScrapeCollector, exposition
from dashboard.schemas.health import NodeHealth, Readiness, ReadyOrNot, RoleHealth
from dashboard.state import State

STALE_AFTER_S = 5 * BEAT_EVERY_S
"""A role that missed this many seconds of beats is stale: hung, or dead and not restarted."""

router = APIRouter()


def expected_roles(site: SiteConfig, workers: int | None = None) -> list[str]:
    """The roles the supervisor runs for ``site``: one ``ingest-N`` per shard, ``detect``, and
    ``reanalysis`` when re-analysis is enabled.

    Mirrors :class:`matthan.supervisor.Supervisor`: ``workers`` (the ``--workers`` option),
    else the site's ``ingest.workers``, else one per CPU, never more than the enabled cameras.
    The station of a multi-machine site (``cluster.enabled``) reads no camera: it runs the
    intake of the nodes' alert stream (``alerts-in``) instead.
    """
    reanalysis = [REANALYSIS_ROLE] if site.reanalysis.enabled else []
    if site.cluster.enabled:
        return [INTAKE_ROLE, *reanalysis]
    cameras = [camera for camera in site.cameras if camera.enabled]
    wanted = workers or site.ingest.workers or os.cpu_count() or 1
    shards = len(shard(cameras, wanted))
    return [*(ingest_role(index) for index in range(shards)), DETECT_ROLE, *reanalysis]


def configured_roles(state: State) -> list[str]:
    """The roles readiness waits for; a launcher that knows better overrides this."""
    return expected_roles(state.site)


ExpectedRoles = Annotated[list[str], Depends(configured_roles)]


def role_ages(store: Store, roles: list[str]) -> dict[str, float]:
    """Heartbeat age of each of ``roles`` (``inf`` if it never beat); others are ignored."""
    ages = heartbeat_ages(store)
    return {role: ages.get(role, math.inf) for role in roles}


def _role_health(role: str, age: float, stale_after_s: float) -> tuple[RoleHealth, str | None]:
    if math.isinf(age):
        return RoleHealth(role=role, state="missing", age_s=None), f"{role}: no heartbeat yet"
    health = RoleHealth(
        role=role, state="fresh" if age <= stale_after_s else "stale", age_s=round(age, 1)
    )
    if health.state == "fresh":
        return health, None
    return health, f"{role}: last heartbeat {age:.0f} s ago (stale after {stale_after_s:.0f} s)"


def readiness(store: Store, roles: list[str], stale_after_s: float = STALE_AFTER_S) -> Readiness:
    """Whether the store answers and every one of ``roles`` beat recently."""
    try:
        ages = role_ages(store, roles)
    except sqlite3.Error as exc:
        unknown = [RoleHealth(role=role, state="unknown", age_s=None) for role in roles]
        return Readiness(ready=False, store=str(exc), roles=unknown, reasons=[f"store: {exc}"])
    checked = [_role_health(role, ages[role], stale_after_s) for role in roles]
    reasons = [reason for _, reason in checked if reason is not None]
    return Readiness(
        ready=not reasons, store="ok", roles=[health for health, _ in checked], reasons=reasons
    )


def node_health(site: SiteConfig, store: Store) -> tuple[list[NodeHealth], list[str]]:
    """The analysis nodes of a site over several machines as the station's intake last saw
    them, and what is wrong: no node reporting, or enabled cameras no live node analyses."""
    now = time.time()
    nodes = [
        NodeHealth(
            name=report.name,
            state="live" if now - report.seen_at <= site.cluster.lease_s else "gone",
            cameras=list(report.cameras),
            analysing=list(report.analysing),
            age_s=round(now - report.seen_at, 1),
        )
        for report in cluster_nodes.reports(store)
    ]
    live = [node for node in nodes if node.state == "live"]
    if not live:
        return nodes, ["no analysis node reports (start matthan node on the nodes)"]
    analysed = {camera for node in live for camera in node.analysing}
    missing = sorted(c.id for c in site.cameras if c.enabled and c.id not in analysed)
    reasons = [f"no node analyses {', '.join(missing)}"] if missing else []
    return nodes, reasons


def _open_to(caller: Caller, state: State) -> None:
    """Liveness and bare readiness are public while ``public_health`` is on."""
    if caller is Caller.ANONYMOUS and not state.site.dashboard.public_health:
        raise HTTPException(status_code=401, detail="login required")


@router.get("/healthz")
def healthz(caller: HealthCaller, state: State) -> dict[str, str]:
    """The dashboard process answers."""
    _open_to(caller, state)
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness | ReadyOrNot,
    responses={503: {"model": Readiness | ReadyOrNot}},
)
def readyz(caller: HealthCaller, state: State, roles: ExpectedRoles) -> JSONResponse:
    """200 when the store answers and every role has a fresh heartbeat, else 503; why only
    for a logged-in user or the token."""
    _open_to(caller, state)
    answer = readiness(state.store, roles)
    if state.site.cluster.enabled:
        nodes, reasons = node_health(state.site, state.store)
        answer = answer.model_copy(
            update={
                "ready": answer.ready and not reasons,
                "nodes": nodes,
                "reasons": [*answer.reasons, *reasons],
            }
        )
    body = answer if caller is not Caller.ANONYMOUS else ReadyOrNot(ready=answer.ready)
    return JSONResponse(body.model_dump(), status_code=200 if answer.ready else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(caller: HealthCaller, state: State, roles: ExpectedRoles) -> Response:
    """Every matthan process's metrics, plus what is measured at scrape time, for Prometheus:
    401 without the token or a session, 403 for a session that is not an admin's."""
    if caller is Caller.ANONYMOUS:
        raise HTTPException(
            status_code=401, detail="token required", headers={"WWW-Authenticate": "Bearer"}
        )
    if caller is Caller.USER:
        raise HTTPException(status_code=403, detail="needs the admin role or the token")
    scrape = ScrapeCollector(state.site, lambda: role_ages(state.store, roles))
    body, content_type = exposition(scrape)
    return Response(body, media_type=content_type)
