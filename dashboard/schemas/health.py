"""The HTTP edge of machine health: what each role may read and readiness
(:mod:`dashboard.routes.health`), as pydantic models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class RoleHealth(BaseModel):
    """One supervised role as readiness sees it; ``age_s`` is None if it never beat."""

    role: str
    state: Literal["fresh", "stale", "missing", "unknown"]
    age_s: float | None


class ReadyOrNot(BaseModel):
    """The answer of /readyz to a caller without a login or the token."""

    ready: bool


class NodeHealth(BaseModel):
    """An analysis node of a site over several machines, as the station last heard of it."""

    name: str
    state: Literal["live", "gone"]
    cameras: list[str]
    analysing: list[str]
    age_s: float


class Readiness(ReadyOrNot):
    """The answer of /readyz: ready or not, and why."""

    store: str
    roles: list[RoleHealth]
    reasons: list[str]
    nodes: list[NodeHealth] = []
    """Only on a multi-machine site's station."""
