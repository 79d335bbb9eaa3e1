"""A real case of the market in a test store: the market's alert and finding, a clip of its
recorded segment, a note, and a finished package (:mod:`dashboard.services.case_export`).

It stands on :func:`tests.area_footage.add_market_footage` (a real recorded segment, an
alert and a finished re-analysis job of the market camera), so a dyke user who asks for
the case, or for its package, is refused because of the area and not because nothing is
there; a user of every area gets the very same request through.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common import case_exports, cases
from common.case_exports import CaseExport
from common.store import Store
from dashboard.services.case_export import ExportRequest, run_export
from tests.area_footage import MARKET_CAMERA, MarketFootage


@dataclass(frozen=True, slots=True)
class MarketCase:
    case_id: int
    clip_id: int
    package: CaseExport
    """The finished package (its row as it was asked for; ``done`` now)."""


def add_market_case(database: Path, footage: MarketFootage, by: str = "operator") -> MarketCase:
    """Open a case holding the market's alert, finding and seconds 1 to 4 of its recording,
    with a note, and build its package (as the dashboard does after answering)."""
    store = Store(database)
    try:
        case_id = cases.create_case(store, "Trộm xe ở chợ", "Hai người, một xe máy", by=by)
        cases.add_alert(store, case_id, footage.alert_id, MARKET_CAMERA, by=by)
        cases.add_finding(
            store, case_id, footage.finished_job_id, footage.finding_id, MARKET_CAMERA, by=by
        )
        start, end = footage.start + 1.0, footage.start + 4.0
        clip = cases.add_clip(store, case_id, MARKET_CAMERA, start, end, by=by)
        cases.add_note(store, case_id, "Đã gọi chủ xe.", by=by)
        package = case_exports.start_export(store, case_id, "cd" * 16, "hồ sơ vụ việc", by=by)
        run_export(store, ExportRequest(package, "Asia/Ho_Chi_Minh", hold=False))
        done = case_exports.case_export(store, package.id)
        assert done is not None
        assert done.state is case_exports.ExportState.DONE, done
    finally:
        store.close()
    return MarketCase(case_id=case_id, clip_id=clip.id, package=package)
