"""Cases through the real app: gathered, handed over, exported, and checked file by file.

The store is real SQLite with real recorded footage: the market camera's segment, alert and
re-analysis finding of :mod:`tests.area_footage`, and a segment of the parking lot cut from
another shared clip, so a case holds clips of two cameras. The dashboard is the real app
(Starlette's TestClient); the package is downloaded, unzipped and every file's SHA-256 is
computed again and compared with the manifest, as whoever receives it would do.
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient

from common import audit, case_exports, cases, recordings
from common.accounts import Accounts, Role
from common.audit_chain import verify_chain
from common.evidence import exports_folder
from common.store import Store
from dashboard.app import create_app
from ingest.export_retention import remove_old_exports
from tests.area_footage import MARKET_CAMERA, MarketFootage, add_market_footage, site_for
from tests.case_footage import add_market_case
from tests.dashboard_site import AREA_DYKE, PASSWORD, copy_store, fill_store, login
from tests.paths import clips_dir
from tests.video_files import cut_clip

PARKING_CAMERA = "bai-xe"
NIGHT_OPERATOR = "night-operator"
DYKE_OPERATOR = "dyke-operator"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Users of every role (a second operator for the night shift, an operator of the dyke),
    and the parking lot's 5 s segment (recorded while the market's, added per test)."""
    path = tmp_path_factory.mktemp("cases") / "site.db"
    fill_store(path, alerts_per_camera=1)
    store = Store(path)
    try:
        accounts = Accounts(store)
        accounts.add_user(NIGHT_OPERATOR, PASSWORD, Role.OPERATOR, actor="test")
        accounts.add_user(DYKE_OPERATOR, PASSWORD, Role.OPERATOR, actor="test", areas=(AREA_DYKE,))
    finally:
        store.close()
    cut_clip(clips_dir() / "intel_parking_lot_cars.mp4", path.parent / "bai-xe-segment.mp4", 5.0)
    return path


@pytest.fixture
def database(template: Path, tmp_path: Path) -> Path:
    return copy_store(template, tmp_path)


@pytest.fixture
def footage(database: Path, template: Path) -> MarketFootage:
    """The market's footage, and the parking lot's segment over the same five seconds."""
    found = add_market_footage(database)
    segment = template.parent / "bai-xe-segment.mp4"
    store = Store(database)
    try:
        recordings.add_segment(
            store,
            PARKING_CAMERA,
            start=found.start,
            end=found.end,
            path=str(segment),
            size=segment.stat().st_size,
        )
    finally:
        store.close()
    return found


@pytest.fixture
def client(database: Path, footage: MarketFootage) -> TestClient:
    return TestClient(create_app(site_for(database), database))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unverified(folder: Path) -> list[str]:
    """What a recipient checks: every file of the package is in the manifest with its size
    and SHA-256, and every file the manifest lists is there. Returns the names that fail."""
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    listed = {entry["name"]: entry for entry in manifest["files"]}
    present = {path.name for path in folder.iterdir()} - {"manifest.json"}
    bad = sorted(present ^ set(listed))
    for name in sorted(present & set(listed)):
        path, entry = folder / name, listed[name]
        if path.stat().st_size != entry["bytes"] or sha256(path) != entry["sha256"]:
            bad.append(name)
    return bad


def exported(client: TestClient, case_id: int, csrf: str, reason: str) -> dict[str, object]:
    """Ask for the case's package and wait until it is built; its row as the API says."""
    answer = client.post(
        f"/api/cases/{case_id}/exports", json={"reason": reason}, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == 202, answer.text
    package_id = answer.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        packages = client.get(f"/api/cases/{case_id}").json()["exports"]
        package: dict[str, object] = next(p for p in packages if p["id"] == package_id)
        if package["state"] != "running":
            return package
        time.sleep(0.2)
    raise AssertionError("the package was not built within 30 s")


def gather_and_hand_over(client: TestClient, footage: MarketFootage) -> int:
    """The day operator opens a case with clips of two cameras, the market's alert and
    finding and a note, and hands it over to the night operator with a note; its id."""
    headers = {"X-CSRF-Token": login(client, "operator")}
    made = client.post("/api/cases", json={"title": "Trộm xe máy ở chợ Gốm"}, headers=headers)
    assert made.json()["case"]["assigned_to"] == "operator"
    case_id: int = made.json()["case"]["id"]
    base = f"/api/cases/{case_id}"
    for camera in (MARKET_CAMERA, PARKING_CAMERA):
        window = {"camera_id": camera, "start": footage.start + 1, "end": footage.start + 4}
        assert client.post(f"{base}/clips", json=window, headers=headers).status_code == 201
    assert client.post(f"{base}/alerts/{footage.alert_id}", headers=headers).status_code == 200
    assert client.post(f"{base}/findings/{footage.finding_id}", headers=headers).is_success
    note = {"text": "Chủ xe báo mất lúc 14:05."}
    assert client.post(f"{base}/notes", json=note, headers=headers).status_code == 201
    assert NIGHT_OPERATOR in client.get(f"{base}/assignees").json()
    handover = {"username": NIGHT_OPERATOR, "note": "Còn xem camera bãi xe."}
    assigned = client.post(f"{base}/assign", json=handover, headers=headers).json()
    assert assigned["case"]["assigned_to"] == NIGHT_OPERATOR
    return case_id


def take_over_and_export(client: TestClient, footage: MarketFootage, case_id: int) -> bytes:
    """The night operator writes a note, exports the case; the ZIP downloaded."""
    csrf = login(client, NIGHT_OPERATOR)
    base = f"/api/cases/{case_id}"
    note = {"text": "Đã xem, xe ra lúc 14:07."}
    answer = client.post(f"{base}/notes", json=note, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 201
    detail = client.get(base).json()
    assert detail["case"]["cameras"] == [PARKING_CAMERA, MARKET_CAMERA]
    assert [alert["id"] for alert in detail["alerts"]] == [footage.alert_id]
    assert [finding["id"] for finding in detail["findings"]] == [footage.finding_id]
    assert [(n["author"], n["kind"]) for n in detail["notes"]] == [
        ("operator", "note"),
        ("operator", "handover"),
        (NIGHT_OPERATOR, "note"),
    ]
    package = exported(client, case_id, csrf, "Công an huyện Gia Lâm yêu cầu")
    assert package["state"] == "done", package
    download = client.get(str(package["zip_url"]))
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == package["sha256"]
    return download.content


def check_contents(folder: Path, footage: MarketFootage, case_id: int) -> list[str]:
    """The manifest names the case and who exported it, the package holds both clips
    (playable H.264, as recorded), both pictures, the notes and the trail; the clips' names."""
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["case"] == {"id": case_id, "title": "Trộm xe máy ở chợ Gốm"}
    assert manifest["exported_by"] == NIGHT_OPERATOR
    assert manifest["reason"] == "Công an huyện Gia Lâm yêu cầu"
    names = sorted(entry["name"] for entry in manifest["files"])
    clips = [name for name in names if name.endswith(".mp4")]
    assert len(clips) == 2
    assert {f"alert-{footage.alert_id}.jpg", f"finding-{footage.finding_id}.jpg"} <= set(names)
    assert {"case.json", "notes.txt", "audit.json"} <= set(names)
    for name in clips:  # remuxed, not re-encoded: the recording's own H.264, playable
        with av.open(str(folder / name)) as clip:
            stream = clip.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in clip.decode(stream)) > 10
    assert "Đã xem, xe ra lúc 14:07." in (folder / "notes.txt").read_text("utf-8")
    return clips


def test_a_case_gathers_two_cameras_is_handed_over_and_its_export_verifies(
    client: TestClient, footage: MarketFootage, database: Path, tmp_path: Path
) -> None:
    with client:
        case_id = gather_and_hand_over(client, footage)
        archive = tmp_path / "package.zip"
        archive.write_bytes(take_over_and_export(client, footage, case_id))
    folder = tmp_path / "received"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(folder)
    assert unverified(folder) == []
    clips = check_contents(folder, footage, case_id)

    trail = json.loads((folder / "audit.json").read_text("utf-8"))
    (export_row,) = [row for row in trail if row["action"] == "case.export"]
    assert export_row["actor"] == NIGHT_OPERATOR
    assert export_row["detail"]["reason"] == "Công an huyện Gia Lâm yêu cầu"
    handed = next(row for row in trail if row["action"] == "case.assign")
    assert handed["detail"] == {
        "case": case_id,
        "from": "operator",
        "to": NIGHT_OPERATOR,
        "note": "Còn xem camera bãi xe.",
    }

    tampered = folder / clips[0]
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    (folder / "extra.txt").write_text("slipped in")
    assert unverified(folder) == ["extra.txt", clips[0]]

    store = Store(database)
    try:  # every change is in the audit log, in order, and the chain is whole
        rows = cases.trail(store, case_id)
        assert verify_chain(store).broken is None
    finally:
        store.close()
    assert [(row.actor, row.action) for row in rows] == [
        ("operator", "case.create"),
        ("operator", "case.clip_add"),
        ("operator", "case.clip_add"),
        ("operator", "case.alert_add"),
        ("operator", "case.finding_add"),
        ("operator", "case.note"),
        ("operator", "case.assign"),
        (NIGHT_OPERATOR, "case.note"),
        (NIGHT_OPERATOR, "case.export"),
        (NIGHT_OPERATOR, "footage.export"),
    ]
    assert [row["id"] for row in trail] == [row.id for row in rows[:-1]]  # all but the download


def test_a_dyke_operator_can_neither_add_market_footage_nor_see_the_market_case(
    client: TestClient, footage: MarketFootage, database: Path
) -> None:
    market = add_market_case(database, footage)
    package_url = f"/api/cases/{market.case_id}/exports/{market.package.id}.zip"
    market_case = f"/api/cases/{market.case_id}"
    clip = {"camera_id": MARKET_CAMERA, "start": footage.start + 1, "end": footage.start + 4}
    with client:
        headers = {"X-CSRF-Token": login(client, DYKE_OPERATOR)}
        own = client.post("/api/cases", json={"title": "Đê"}, headers=headers).json()
        own_case = f"/api/cases/{own['case']['id']}"
        refused = [
            client.post(f"{own_case}/clips", json=clip, headers=headers),
            client.post(f"{own_case}/alerts/{footage.alert_id}", headers=headers),
            client.post(f"{own_case}/findings/{footage.finding_id}", headers=headers),
            client.get(market_case),
            client.post(f"{market_case}/notes", json={"text": "x"}, headers=headers),
            client.post(f"{market_case}/exports", json={"reason": "xem"}, headers=headers),
            client.get(package_url),
        ]
        assert [answer.status_code for answer in refused] == [404] * len(refused)
        assert [case["id"] for case in client.get("/api/cases").json()] == [own["case"]["id"]]
        assert client.get(own_case).json()["clips"] == []

        headers = {"X-CSRF-Token": login(client, "operator")}  # the same requests, all areas
        assert client.post(f"{own_case}/clips", json=clip, headers=headers).status_code == 201
        assert client.get(market_case).status_code == 200
        assert client.get(package_url).status_code == 200
        listed = {case["id"] for case in client.get("/api/cases").json()}
        assert listed == {own["case"]["id"], market.case_id}
        handover = {"username": DYKE_OPERATOR, "note": "nhờ xem"}
        answer = client.post(f"{market_case}/assign", json=handover, headers=headers)
        assert answer.status_code == 422  # may not see the market: cannot take the case
        assert DYKE_OPERATOR not in client.get(f"{market_case}/assignees").json()

        login(client, "dyke-viewer")  # now the dyke's own case holds a market clip too
        assert client.get("/api/cases").json() == []
        login(client, "viewer")  # reads every case, changes none
        assert client.get(market_case).status_code == 200
        answer = client.post(f"{market_case}/notes", json={"text": "x"}, headers={})
        assert answer.status_code == 403


def test_a_closed_case_takes_no_change_until_reopened_and_clips_are_bounded(
    client: TestClient, footage: MarketFootage, database: Path
) -> None:
    market = add_market_case(database, footage)
    base = f"/api/cases/{market.case_id}"
    with client:
        headers = {"X-CSRF-Token": login(client, "operator")}
        now = time.time()
        bad_clips = {
            "clip_too_long": (footage.start - 7200, footage.start + 4),
            "clip_order": (footage.start + 4, footage.start + 1),
            "clip_future": (now + 60, now + 120),
            "nothing_recorded": (footage.start - 3600, footage.start - 3000),
        }
        for code, (start, end) in bad_clips.items():
            body = {"camera_id": MARKET_CAMERA, "start": start, "end": end}
            answer = client.post(f"{base}/clips", json=body, headers=headers)
            assert (answer.status_code, answer.json()["detail"]["code"]) == (422, code)

        closing = {"state": "closed", "note": "Đã chuyển hồ sơ."}
        assert client.patch(base, json=closing, headers=headers).json()["case"]["state"] == "closed"
        answer = client.post(f"{base}/notes", json={"text": "thêm"}, headers=headers)
        assert (answer.status_code, answer.json()["detail"]["code"]) == (409, "closed")
        assert client.delete(f"{base}/clips/{market.clip_id}", headers=headers).status_code == 409
        reopened = client.patch(base, json={"state": "open", "title": "Vụ 2"}, headers=headers)
        assert reopened.json()["case"] | {"updated_at": 0} == reopened.json()["case"] | {
            "state": "open",
            "title": "Vụ 2",
            "updated_at": 0,
        }
        assert client.delete(f"{base}/clips/{market.clip_id}", headers=headers).status_code == 200

    store = Store(database)
    try:
        actions = [row.action for row in audit.entries(store, limit=4)][::-1]
    finally:
        store.close()
    assert actions == ["case.close", "case.reopen", "case.edit", "case.clip_remove"]


def test_export_retention_keeps_a_held_package_and_removes_it_once_old(
    database: Path, footage: MarketFootage
) -> None:
    """A case's package lies in the exports folder like a camera export: retention reads its
    manifest (every entry names a camera and a time), keeps it while its footage is on legal
    hold, and removes the folder and its ZIP once the hold is lifted and the package is old."""
    market = add_market_case(database, footage)
    folder = exports_folder(database) / market.package.folder
    assert folder.with_suffix(".zip").is_file()
    store = Store(database)
    try:
        hold = recordings.add_legal_hold(
            store,
            MARKET_CAMERA,
            start=footage.start,
            end=footage.end,
            reason="vụ việc",
            by="a",
            at=time.time(),
        )
        assert market.package.folder not in remove_old_exports(
            store, folder.parent, time.time() + 60
        )
        recordings.lift_legal_hold(store, hold, by="admin", reason="xong")
        assert market.package.folder in remove_old_exports(store, folder.parent, time.time() + 60)
    finally:
        store.close()
    assert not folder.exists()
    assert not folder.with_suffix(".zip").exists()


def test_a_package_left_running_by_a_stopped_dashboard_fails_and_may_be_made_again(
    database: Path, footage: MarketFootage
) -> None:
    """The dashboard builds packages after answering; if it stops meanwhile, the row would say
    ``running`` for ever and refuse the case's next export (409). Its next start marks it
    failed, saying why, and the case is exported again."""
    market = add_market_case(database, footage)
    store = Store(database)
    try:
        stuck = case_exports.start_export(store, market.case_id, "ef" * 16, "lần 2", by="operator")
    finally:
        store.close()
    assert stuck.state is case_exports.ExportState.RUNNING
    with TestClient(create_app(site_for(database), database)) as client:
        csrf = login(client, "operator")
        store = Store(database)
        try:
            failed = case_exports.case_export(store, stuck.id)
        finally:
            store.close()
        assert failed is not None
        assert failed.state is case_exports.ExportState.FAILED
        assert failed.detail == case_exports.INTERRUPTED
        again = client.post(
            f"/api/cases/{market.case_id}/exports",
            json={"reason": "lần 3"},
            headers={"X-CSRF-Token": csrf},
        )
        assert again.status_code == 202, again.text
