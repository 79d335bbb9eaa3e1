"""Which cases a user may open: a case is visible only to a user who may see every camera in
it, and one they may not see is answered as if it did not exist (404)."""

from __future__ import annotations

from common import cases
from common.accounts import User
from common.cases import Case
from dashboard.refusals import Refusal
from dashboard.services.camera_access import may_see
from dashboard.state import DashboardState


def refuse_missing_case() -> Refusal:
    return Refusal(404, "no_case", "no such case")


def visible_case(state: DashboardState, user: User, case_id: int) -> Case:
    """The case if it exists and the user may see every camera in it, else 404."""
    found = cases.case(state.store, case_id)
    if found is None or not sees_all(state, user, cases.cameras_of(state.store, [case_id])):
        raise refuse_missing_case()
    return found


def sees_all(state: DashboardState, user: User, cameras: dict[int, set[str]]) -> bool:
    return all(may_see(state.site, user, camera) for held in cameras.values() for camera in held)
