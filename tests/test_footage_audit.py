"""Footage served by the dashboard, on a real recorded MP4 in a real store: every fetch of a
recording, alert clip, alert picture or export is audited (once per user and item per few
minutes, however many byte ranges the player asks for); an alert's clip is cut once, after
the alert has ended, and goes with its footage; exports are hashed in bounded memory and
their ZIP matches the manifest; only admins place and lift legal holds."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient

from common import alert_rows, recordings
from common.config import RecordingConfig
from common.evidence import cut_clip
from common.recordings import Segment
from common.store import Store
from dashboard.app import create_app
from dashboard.routes import replay
from ingest.retention import RetentionSweeper
from tests.dashboard_site import add_alert, copy_store, fill_store, login, site_config
from tests.paths import clips_dir

CAMERA = "cho-gom"
SMALL_CLIP = "indoor_walking_by.mp4"
LARGE_CLIP = "pets09_s2l1_vtest.mp4"


def duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        assert container.duration is not None
        return container.duration / 1e6


@dataclass(frozen=True, slots=True)
class Site:
    """A store with users of every role and one recorded segment of ``cho-gom`` that
    started an hour ago; ``alert_id`` is an open alert 5 s into it."""

    database: Path
    segment: Segment
    alert_id: int


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("footage-template") / "site.db"
    fill_store(database, alerts_per_camera=1)
    return database


def recorded_site(template: Path, folder: Path, clip: str = SMALL_CLIP) -> Site:
    database = copy_store(template, folder)
    segment_file = folder / "rec" / CAMERA / "segment.mp4"
    segment_file.parent.mkdir(parents=True)
    shutil.copyfile(clips_dir() / clip, segment_file)
    start = time.time() - 3600
    store = Store(database)
    try:
        segment_id = recordings.add_segment(
            store,
            CAMERA,
            start=start,
            end=start + duration_s(segment_file),
            path=str(segment_file),
            size=segment_file.stat().st_size,
        )
        alert_id = add_alert(store, CAMERA, started_at=start + 5)
        (segment,) = [s for s in recordings.segments(store, CAMERA) if s.id == segment_id]
    finally:
        store.close()
    return Site(database, segment, alert_id)


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Site:
    return recorded_site(template, tmp_path)


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(create_app(site_config(), site.database)) as test_client:
        yield test_client


def audit_rows(database: Path, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, target, detail) of the rows of one action, oldest first."""
    store = Store(database)
    try:
        rows = store.read(
            "SELECT actor, target, detail FROM audit_log WHERE action = ? ORDER BY id", (action,)
        )
    finally:
        store.close()
    return [(row[0], row[1], json.loads(row[2])) for row in rows]


def export(client: TestClient, csrf: str, segment: Segment) -> dict[str, Any]:
    body = {
        "camera_ids": [CAMERA],
        "start": segment.start + 2,
        "end": segment.end - 2,
        "reason": "Vụ việc số 17/2026",
    }
    response = client.post("/api/exports", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_every_footage_fetch_is_audited_once_per_user_and_item(
    client: TestClient, site: Site
) -> None:
    """An operator plays a recording (many byte ranges), views an alert's pictures and clip,
    and downloads an export's file and ZIP: each item gets one row naming them."""
    csrf = login(client, "operator")
    url = f"/api/recordings/{site.segment.id}/video.mp4"
    for byte_range in ("bytes=0-", "bytes=0-1023", "bytes=4096-8191", "bytes=0-"):
        response = client.get(url, headers={"Range": byte_range})
        assert response.status_code == 206
    assert audit_rows(site.database, "footage.recording") == [
        ("operator", CAMERA, {"segment": site.segment.id})
    ]

    for picture in ("snapshot", "crop", "snapshot"):
        assert client.get(f"/api/alerts/{site.alert_id}/{picture}.jpg").status_code == 200
    assert audit_rows(site.database, "footage.picture") == [
        ("operator", CAMERA, {"alert": site.alert_id, "picture": "snapshot"}),
        ("operator", CAMERA, {"alert": site.alert_id, "picture": "crop"}),
    ]

    for _ in range(2):
        assert client.get(f"/api/alerts/{site.alert_id}/clip.mp4").status_code == 200
    assert audit_rows(site.database, "footage.clip") == [
        ("operator", CAMERA, {"alert": site.alert_id})
    ]

    made = export(client, csrf, site.segment)
    (file,) = made["files"]
    assert client.get(file["url"]).status_code == 200
    assert client.get(made["zip_url"]).status_code == 200
    assert audit_rows(site.database, "footage.export") == [
        ("operator", CAMERA, {"export": made["id"], "file": file["name"]}),
        ("operator", CAMERA, {"export": made["id"], "file": f"{made['id']}.zip"}),
    ]

    login(client, "viewer")  # another user: rows of their own
    assert client.get(url, headers={"Range": "bytes=0-"}).status_code == 206
    assert [row[0] for row in audit_rows(site.database, "footage.recording")] == [
        "operator",
        "viewer",
    ]


def counting_cuts(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every clip the dashboard cuts, by output path."""
    cuts: list[Path] = []
    real: Callable[..., Any] = cut_clip

    def counted(segments: Any, start: float, end: float, out: Path) -> Any:
        cuts.append(out)
        return real(segments, start, end, out)

    monkeypatch.setattr(replay, "cut_clip", counted)
    return cuts


def test_alert_clip_is_cut_once_after_the_alert_ended_and_removed_with_its_footage(
    client: TestClient, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the alert is open each request gets a cut up to now that is deleted once sent
    (nothing is left behind); once it has ended, the clip is cut once and kept; recording
    retention removing the footage removes the clip too."""
    cuts = counting_cuts(monkeypatch)
    login(client, "viewer")
    clip_url = f"/api/alerts/{site.alert_id}/clip.mp4"
    folder = site.database.parent / "clips"  # next to the store
    for _ in range(2):
        response = client.get(clip_url)
        assert response.status_code == 200
        assert response.content[4:8] == b"ftyp"
    assert len(cuts) == 2
    assert len(set(cuts)) == 2, "two requests of an open alert wrote the same file"
    assert sorted(p.name for p in folder.iterdir()) == [], "an open alert's cut was left behind"

    store = Store(site.database)
    alert_rows.end_alert(store, site.alert_id, site.segment.start + 8)
    with ThreadPoolExecutor(3) as pool:  # three players at once: one cut, the others wait
        firsts = list(pool.map(lambda _: client.get(clip_url), range(3)))
    assert [response.status_code for response in firsts] == [200, 200, 200]
    assert len(cuts) == 3, "the ended alert's clip was cut more than once"
    kept = folder / f"alert-{site.alert_id}.mp4"
    identity = kept.stat().st_ino, kept.stat().st_mtime_ns
    second = client.get(clip_url, headers={"Range": "bytes=0-"})
    assert second.status_code == 206
    assert {response.content for response in firsts} == {second.content}
    assert len(cuts) == 3, "the ended alert's clip was cut again"
    assert (kept.stat().st_ino, kept.stat().st_mtime_ns) == identity
    assert sorted(p.name for p in folder.iterdir()) == [kept.name]

    config = RecordingConfig(path=Path(site.segment.path).parents[1], retain_days=1, min_free_gb=0)
    RetentionSweeper(store, config).sweep(time.time() + 2 * 86400)
    store.close()
    assert not Path(site.segment.path).exists()
    assert not kept.exists(), "the clip outlived its footage"


def test_export_is_hashed_in_bounded_memory(tmp_path: Path) -> None:
    """Cutting an 8 MB recording into an export file hashes it without reading it whole:
    Python's peak allocation stays far below the file's size."""
    segment_file = tmp_path / "segment.mp4"
    shutil.copyfile(clips_dir() / LARGE_CLIP, segment_file)
    start = 1_700_000_000.0
    segment = Segment(1, CAMERA, start, start + duration_s(segment_file), str(segment_file), 0)
    out = tmp_path / "export.mp4"
    tracemalloc.start()
    try:
        clip = cut_clip([segment], segment.start, segment.end, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = out.stat().st_size
    assert size > 5_000_000
    assert peak < size / 4, f"peak {peak} bytes while hashing a {size} byte file"
    assert clip.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert clip.bytes == size


def test_export_zip_matches_its_manifest(client: TestClient, site: Site) -> None:
    csrf = login(client, "operator")
    made = export(client, csrf, site.segment)
    response = client.get(made["zip_url"])
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["exported_by"] == "operator"
        assert [entry["name"] for entry in manifest["files"]] == [f"{CAMERA}.mp4"]
        for entry in manifest["files"]:
            data = archive.read(entry["name"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert len(data) == entry["bytes"]


def test_only_admins_place_and_lift_legal_holds(client: TestClient, site: Site) -> None:
    """An operator's export puts nothing on hold, and an operator can neither place nor lift
    a hold; an admin can (an admin's export holds its footage), and both are audited."""
    csrf = login(client, "operator")
    export(client, csrf, site.segment)
    hold = {"camera_id": CAMERA, "start": site.segment.start, "end": site.segment.end}
    body = hold | {"reason": "Vụ việc số 17/2026"}
    headers = {"X-CSRF-Token": csrf}
    assert client.post("/api/holds", json=body, headers=headers).status_code == 403
    assert client.get("/api/holds").status_code == 403
    store = Store(site.database)
    try:
        assert store.read("SELECT * FROM legal_holds") == []
        held_id = recordings.add_legal_hold(
            store,
            CAMERA,
            start=site.segment.start,
            end=site.segment.end,
            reason="x",
            by="cli",
            at=0,
        )
    finally:
        store.close()
    lift = client.post(f"/api/holds/{held_id}/lift", json={"reason": "xong"}, headers=headers)
    assert lift.status_code == 403

    headers = {"X-CSRF-Token": login(client, "admin")}
    placed = client.post("/api/holds", json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    assert placed.json()["created_by"] == "admin"
    export(client, headers["X-CSRF-Token"], site.segment)  # an admin's export holds it
    listed = client.get("/api/holds").json()
    assert len(listed) == 3
    assert {entry["created_by"] for entry in listed} == {"admin", "cli"}
    lifted = client.post(
        f"/api/holds/{placed.json()['id']}/lift",
        json={"reason": "vụ việc đã xong"},
        headers=headers,
    )
    assert lifted.status_code == 200
    assert [entry["id"] for entry in client.get("/api/holds").json()] == [
        entry["id"] for entry in listed if entry["id"] != placed.json()["id"]
    ]
    places = audit_rows(site.database, "hold.place")
    assert [(actor, target) for actor, target, _ in places] == [
        ("cli", CAMERA),
        ("admin", CAMERA),
        ("admin", CAMERA),
    ]
    ((actor, target, detail),) = audit_rows(site.database, "hold.lift")
    assert (actor, target) == ("admin", CAMERA)
    assert detail["hold"] == placed.json()["id"]
    assert detail["lift_reason"] == "vụ việc đã xong"
    assert detail["placed_by"] == "admin"
