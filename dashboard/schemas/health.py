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
