"""Cases: open one, gather alerts, findings, clips and notes in it, hand it over, close it.

Who may do what follows the alerts: anyone logged in reads the cases they may see, only
operators and admins change them (and export them, :mod:`dashboard.routes.case_exports`).
Every change is audited in the transaction that makes it (:mod:`common.cases`).

Area scoping: **a case is shown only to a user who may see every camera in it** (its
alerts', findings' and clips' cameras); to anyone else it does not exist (404), in the list
and by id. Nothing of a case is ever shown in part: a case that mixes the market and the
dyke is the business of someone who sees both. An operator may only add what they may see
(an alert, finding or clip of a camera of another area is 404 too), and a case goes only
to a user who may see all of it and may change it (an operator or admin).

A closed case takes no change (409, ``closed``) until it is reopened.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from common import alert_rows, case_exports, cases, jobs, recordings
from common.accounts import Role, User
from common.cases import Case, CaseState
from dashboard.auth import PAGE, CurrentSession, OperatorSession, client_address
from dashboard.refusals import Refusal
from dashboard.schemas.cases import (
    AssignIn,
    CaseDetailOut,
    CaseExportOut,
    CaseIn,
    CaseOut,
    CasePatchIn,
    CasesQuery,
    ClipIn,
    ClipOut,
    HistoryOut,
    NoteIn,
    NoteOut,
)
from dashboard.schemas.ids import RowId
from dashboard.schemas.reanalysis import FindingOut
from dashboard.services.alert_views import alerts_out
from dashboard.services.camera_access import find_camera, may_see, visible_camera
from dashboard.services.case_access import sees_all, visible_case
from dashboard.services.page_shell import page
from dashboard.state import DashboardState, State

router = APIRouter()
MAX_CLIP_S = 2 * 3600
"""The longest window one clip of a case may cover (a longer span: several clips)."""
MAX_CLIPS = 32
"""The most clips one case may hold (the export cuts every one)."""


@contextmanager
def _changing() -> Iterator[None]:
    """A change of :mod:`common.cases` refused: no such item (404), a closed case (409)."""
    try:
        yield
    except cases.CaseNotFoundError as error:
        raise Refusal(404, "no_item", str(error)) from error
    except cases.CaseClosedError as error:
        raise Refusal(409, "closed", str(error)) from error


def _case_out(state: DashboardState, found: Case) -> CaseOut:
    return CaseOut.of(found, cases.cameras_of(state.store, [found.id])[found.id])


def case_detail(state: DashboardState, found: Case) -> CaseDetailOut:
    """The case with its alerts and findings as cards, clips, notes, packages and history;
    an alert or finding deleted since it was added is left out."""
    store = state.store
    alerts = [alert_rows.alert(store, item.alert_id) for item in cases.alerts(store, found.id)]
    findings = [jobs.job_alert(store, item.finding_id) for item in cases.findings(store, found.id)]
    return CaseDetailOut(
        case=_case_out(state, found),
        alerts=alerts_out(
            state.site, state.store, [alert for alert in alerts if alert is not None]
        ),
        findings=[
            FindingOut.of(f, find_camera(state.site, f.camera_id))
            for f in findings
            if f is not None
        ],
        clips=[
            ClipOut.of(c, find_camera(state.site, c.camera_id))
            for c in cases.clips(store, found.id)
        ],
        notes=[NoteOut.of(note) for note in cases.notes(store, found.id)],
        exports=[CaseExportOut.of(e) for e in case_exports.case_exports(store, found.id)],
        history=[HistoryOut.of(entry) for entry in cases.trail(store, found.id)],
    )


@router.get("/cases", dependencies=[PAGE], include_in_schema=False)
def cases_page() -> HTMLResponse:
    return page("cases")


@router.get("/api/cases")
def list_cases(
    state: State, session: CurrentSession, query: Annotated[CasesQuery, Query()]
) -> list[CaseOut]:
    """The cases the user may see, the newest-changed first."""
    found = cases.cases(state.store, CaseState(query.state) if query.state else None)
    cameras = cases.cameras_of(state.store, [case.id for case in found])
    return [
        CaseOut.of(case, cameras[case.id])
        for case in found
        if sees_all(state, session.user, {case.id: cameras[case.id]})
    ]


@router.post("/api/cases", status_code=201)
def create_case(
    state: State, session: OperatorSession, request: Request, body: CaseIn
) -> CaseDetailOut:
    """Open a case (it holds no camera yet), assigned to whoever opened it."""
    case_id = cases.create_case(
        state.store,
        body.title,
        body.description,
        by=session.user.username,
        address=client_address(request),
    )
    return case_detail(state, visible_case(state, session.user, case_id))


@router.get("/api/cases/{case_id}")
def get_case(state: State, session: CurrentSession, case_id: RowId) -> CaseDetailOut:
    return case_detail(state, visible_case(state, session.user, case_id))


@router.patch("/api/cases/{case_id}")
def change_case(
    state: State, session: OperatorSession, request: Request, case_id: RowId, body: CasePatchIn
) -> CaseDetailOut:
    """Close or reopen (first, so a reopened case can be edited in the same request), then
    change the title or description."""
    visible_case(state, session.user, case_id)
    by, address = session.user.username, client_address(request)
    with _changing():
        if body.state is not None:
            cases.set_state(
                state.store, case_id, CaseState(body.state), note=body.note, by=by, address=address
            )
        if body.title is not None or body.description is not None:
            cases.edit_case(
                state.store,
                case_id,
                title=body.title,
                description=body.description,
                by=by,
                address=address,
            )
    return case_detail(state, visible_case(state, session.user, case_id))


@router.post("/api/cases/{case_id}/alerts/{alert_id}")
def add_alert(
    state: State, session: OperatorSession, request: Request, case_id: RowId, alert_id: RowId
) -> CaseDetailOut:
    """Put an alert the user may see in the case (again: nothing changes)."""
    visible_case(state, session.user, case_id)
    alert = alert_rows.alert(state.store, alert_id)
    if alert is None or not may_see(state.site, session.user, alert.camera_id):
        raise Refusal(404, "no_alert", "no such alert")
    with _changing():
        cases.add_alert(
            state.store,
            case_id,
            alert_id,
            alert.camera_id,
            by=session.user.username,
            address=client_address(request),
        )
    return case_detail(state, visible_case(state, session.user, case_id))


@router.delete("/api/cases/{case_id}/alerts/{alert_id}")
def remove_alert(
    state: State, session: OperatorSession, request: Request, case_id: RowId, alert_id: RowId
) -> CaseDetailOut:
    visible_case(state, session.user, case_id)
    with _changing():
        cases.remove_alert(
            state.store,
            case_id,
            alert_id,
            by=session.user.username,
            address=client_address(request),
        )
    return case_detail(state, visible_case(state, session.user, case_id))


@router.post("/api/cases/{case_id}/findings/{finding_id}")
def add_finding(
    state: State, session: OperatorSession, request: Request, case_id: RowId, finding_id: RowId
) -> CaseDetailOut:
    """Put a re-analysis finding the user may see in the case (with its job)."""
    visible_case(state, session.user, case_id)
    finding = jobs.job_alert(state.store, finding_id)
    if finding is None or not may_see(state.site, session.user, finding.camera_id):
        raise Refusal(404, "no_finding", "no such finding")
    with _changing():
        cases.add_finding(
            state.store,
            case_id,
            finding.job_id,
            finding.id,
            finding.camera_id,
            by=session.user.username,
            address=client_address(request),
        )
    return case_detail(state, visible_case(state, session.user, case_id))


@router.delete("/api/cases/{case_id}/findings/{finding_id}")
def remove_finding(
    state: State, session: OperatorSession, request: Request, case_id: RowId, finding_id: RowId
) -> CaseDetailOut:
    visible_case(state, session.user, case_id)
    with _changing():
        cases.remove_finding(
            state.store,
            case_id,
            finding_id,
            by=session.user.username,
            address=client_address(request),
        )
    return case_detail(state, visible_case(state, session.user, case_id))


def _checked_clip(state: DashboardState, user: User, case_id: int, body: ClipIn) -> None:
    """A clip the user may add: a camera of theirs, a window of at most :data:`MAX_CLIP_S`
    that has begun and holds recorded footage, and room in the case."""
    if visible_camera(state.site, user, body.camera_id) is None:
        raise Refusal(404, "no_camera", f"no such camera: {body.camera_id}")
    if body.end <= body.start:
        raise Refusal(422, "clip_order", "the end must be after the start")
    if body.end - body.start > MAX_CLIP_S:
        raise Refusal(422, "clip_too_long", "a clip is at most 2 h", max_h=MAX_CLIP_S // 3600)
    if body.start >= time.time():
        raise Refusal(422, "clip_future", "the window lies in the future")
    if not recordings.segments(state.store, body.camera_id, body.start, body.end):
        raise Refusal(422, "nothing_recorded", "nothing was recorded on this camera then")
    if len(cases.clips(state.store, case_id)) >= MAX_CLIPS:
        raise Refusal(422, "too_many_clips", "the case is full", max_clips=MAX_CLIPS)


@router.post("/api/cases/{case_id}/clips", status_code=201)
def add_clip(
    state: State, session: OperatorSession, request: Request, case_id: RowId, body: ClipIn
) -> CaseDetailOut:
    visible_case(state, session.user, case_id)
    _checked_clip(state, session.user, case_id, body)
    with _changing():
        cases.add_clip(
            state.store,
            case_id,
            body.camera_id,
            body.start,
            body.end,
            by=session.user.username,
            address=client_address(request),
        )
    return case_detail(state, visible_case(state, session.user, case_id))


@router.delete("/api/cases/{case_id}/clips/{clip_id}")
def remove_clip(
    state: State, session: OperatorSession, request: Request, case_id: RowId, clip_id: RowId
) -> CaseDetailOut:
    visible_case(state, session.user, case_id)
    with _changing():
        cases.remove_clip(
            state.store, case_id, clip_id, by=session.user.username, address=client_address(request)
        )
    return case_detail(state, visible_case(state, session.user, case_id))


@router.post("/api/cases/{case_id}/notes", status_code=201)
def add_note(
    state: State, session: OperatorSession, request: Request, case_id: RowId, body: NoteIn
) -> CaseDetailOut:
    visible_case(state, session.user, case_id)
    with _changing():
        cases.add_note(
            state.store,
            case_id,
            body.text,
            by=session.user.username,
            address=client_address(request),
        )
    return case_detail(state, visible_case(state, session.user, case_id))


def assignees(state: DashboardState, case_id: int) -> list[str]:
    """Who may take the case: enabled operators and admins who may see every camera in it."""
    held = cases.cameras_of(state.store, [case_id])
    return [
        user.username
        for user in state.accounts.users()
        if not user.disabled and user.role.allows(Role.OPERATOR) and sees_all(state, user, held)
    ]


@router.get("/api/cases/{case_id}/assignees")
def list_assignees(state: State, session: OperatorSession, case_id: RowId) -> list[str]:
    visible_case(state, session.user, case_id)
    return assignees(state, case_id)


@router.post("/api/cases/{case_id}/assign")
def assign(
    state: State, session: OperatorSession, request: Request, case_id: RowId, body: AssignIn
) -> CaseDetailOut:
    """Give the case to someone who may take it; from another operator it is a hand-over,
    and the note says what is done and what is left."""
    visible_case(state, session.user, case_id)
    if body.username not in assignees(state, case_id):
        raise Refusal(422, "bad_assignee", f"{body.username} cannot take this case")
    with _changing():
        cases.assign(
            state.store,
            case_id,
            body.username,
            note=body.note,
            by=session.user.username,
            address=client_address(request),
        )
    return case_detail(state, visible_case(state, session.user, case_id))
