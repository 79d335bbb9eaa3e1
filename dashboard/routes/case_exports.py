"""A case's evidence package: asked for by an operator or admin, built after the answer,
downloaded as one ZIP (:mod:`dashboard.services.case_export` says what is in it).

Asking is audited (``case.export``, who and why) before the package is built, so its own
audit trail names who exported it; each download is audited as a footage fetch
(``footage.export``, target ``case:ID``). The package's size is bounded before anything is
cut (413, ``too_large``), and a case builds one package at a time (409, ``export_busy``).

The package is built by a background task of the request (Starlette runs it once the
answer is sent, on a worker thread), so the page polls the case for the package's state.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import FileResponse

from common import audit, case_exports, cases
from common.accounts import Role
from common.audit import Action
from common.case_exports import ExportState
from common.evidence import exports_folder
from dashboard.auth import OperatorSession, client_address
from dashboard.refusals import Refusal
from dashboard.schemas.cases import CaseExportIn, CaseExportOut
from dashboard.schemas.ids import RowId
from dashboard.services.case_access import visible_case
from dashboard.services.case_export import (
    MAX_PACKAGE_BYTES,
    ExportRequest,
    estimated_bytes,
    run_export,
)
from dashboard.services.footage_audit import audit_footage
from dashboard.state import State

router = APIRouter()


@router.post("/api/cases/{case_id}/exports", status_code=202)
def export_case(
    state: State,
    session: OperatorSession,
    request: Request,
    case_id: RowId,
    *,
    body: CaseExportIn,
    background: BackgroundTasks,
) -> CaseExportOut:
    """Ask for a package of the case: answered at once (``running``), built afterwards."""
    visible_case(state, session.user, case_id)
    footage = estimated_bytes(state.store, cases.clips(state.store, case_id))
    if footage > MAX_PACKAGE_BYTES:
        max_gb = MAX_PACKAGE_BYTES // 2**30
        raise Refusal(413, "too_large", f"more than {max_gb} GB of footage", max_gb=max_gb)
    address = client_address(request)
    try:
        export = case_exports.start_export(
            state.store,
            case_id,
            uuid.uuid4().hex,
            body.reason,
            by=session.user.username,
            address=address,
        )
    except case_exports.ExportBusyError as error:
        raise Refusal(409, "export_busy", str(error)) from error
    held = session.user.role is Role.ADMIN
    timezone = state.site.site.timezone
    cluster = state.site.cluster
    asked = ExportRequest(
        export,
        timezone,
        hold=held,
        address=address,
        token_env=cluster.token_env,
        ca=cluster.tls_ca,
    )
    background.add_task(run_export, state.store, asked)
    return CaseExportOut.of(export)


@router.get("/api/cases/{case_id}/exports/{package_id}.zip")
def case_package(
    state: State, session: OperatorSession, request: Request, case_id: RowId, package_id: RowId
) -> FileResponse:
    """A finished package of a case the user may see, audited as a footage fetch."""
    visible_case(state, session.user, case_id)
    export = case_exports.case_export(state.store, package_id)
    if export is None or export.case_id != case_id or export.state is not ExportState.DONE:
        raise Refusal(404, "no_package", "no such package")
    archive = (exports_folder(state.store.path) / export.folder).with_suffix(".zip")
    if not archive.is_file():  # removed by export retention
        raise Refusal(404, "no_package", "the package was removed")
    detail: audit.Detail = {"case_export": package_id, "file": archive.name}
    audit_footage(
        state,
        session,
        request,
        action=Action.EXPORT_DOWNLOAD,
        target=cases.target(case_id),
        detail=detail,
    )
    name = f"case-{case_id}-package-{package_id}.zip"
    return FileResponse(archive, media_type="application/zip", filename=name)
