"""The audit log, for admins: newest first, in pages. There is no route that changes it."""

from __future__ import annotations

from fastapi import APIRouter, Query

from common import audit
from dashboard.auth import ADMIN_ONLY
from dashboard.schemas.accounts import AuditOut
from dashboard.schemas.ids import SQLITE_MAX_INTEGER
from dashboard.state import State

router = APIRouter()


@router.get("/api/audit", dependencies=[ADMIN_ONLY])
def list_audit(
    state: State,
    limit: int = Query(default=100, ge=1, le=500),
    before: int | None = Query(
        default=None, ge=1, le=SQLITE_MAX_INTEGER, description="smallest id of the last page"
    ),
) -> list[AuditOut]:
    return [AuditOut.of(entry) for entry in audit.entries(state.store, limit, before)]
