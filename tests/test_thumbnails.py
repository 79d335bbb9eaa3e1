"""Camera-wall thumbnails: ingest publishes a small picture per camera, the dashboard serves it.

With real parts: frames decoded by PyAV from the clip library, ingest reading the RTSP
camera farm (one camera fully decoded, one idle and decoded keyframes only), a real SQLite
store with real alert JPEGs, the FastAPI app with a real login, and the wall in Chromium.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright
from prometheus_client import REGISTRY

from common.accounts import Accounts, Role
from common.config import RecordingConfig, SiteConfig
from common.store import Store
from common.thumbnail_files import thumbnail_path, thumbnails_folder, write_atomically
from dashboard.app import create_app
from dashboard.services.thumbnails import STALE_AFTER_S, Thumbnails
from ingest.thumbnail import ThumbnailWriter, encode_thumbnail
from matthan.farm import CameraFarm, Mount
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, wait_http
from tests.dashboard_site import PASSWORD, add_alert, copy_store, fill_store, login, site_config
from tests.ingest_run import IngestRun, camera, site, wait_for
from tests.paths import clips_dir

PETS = "pets09_s2l1_vtest.mp4"  # 768x576, 10 fps, a keyframe every 2.5 s


def clip_frames(count: int, clip: str = PETS) -> list[av.VideoFrame]:
    """The first ``count`` frames of a clip, decoded as a camera reader decodes them."""
    with av.open(str(clips_dir() / clip)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) == count:
                return frames
    raise AssertionError(f"{clip} has fewer than {count} frames")


def picture(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


def metric(name: str, camera_id: str) -> float:
    return REGISTRY.get_sample_value(name, {"camera": camera_id}) or 0.0


# --- ingest side: the writer ------------------------------------------------------------


def test_writer_keeps_one_picture_per_interval(tmp_path: Path) -> None:
    now = [100.0]
    folder = tmp_path / "thumbnails"
    writer = ThumbnailWriter("unit-gate", folder, 10.0, clock=lambda: now[0])
    first, second, third = clip_frames(3)
    written = metric("matthan_ingest_thumbnails_total", "unit-gate")

    assert writer.offer(first)  # the first frame at once: a camera just online shows up
    assert writer.path == folder / "unit-gate.jpg"
    assert picture(writer.path.read_bytes()).shape == (240, 320, 3)  # 768x576 -> 320 long
    before = writer.path.stat()
    now[0] += 9.9
    assert not writer.due()
    assert not writer.offer(second)  # within the interval: nothing encoded, nothing written
    assert writer.path.stat().st_mtime_ns == before.st_mtime_ns
    now[0] += 0.1
    assert writer.offer(third)
    assert writer.path.stat().st_ino != before.st_ino  # replaced, not rewritten in place
    assert sorted(p.name for p in folder.iterdir()) == ["unit-gate.jpg"]  # no temp file left
    assert metric("matthan_ingest_thumbnails_total", "unit-gate") == written + 2


def test_a_failed_write_is_counted_and_retried_next_interval(tmp_path: Path) -> None:
    now = [0.0]
    blocker = tmp_path / "thumbnails"
    blocker.write_text("a file where the folder should be")
    writer = ThumbnailWriter("unit-broken", blocker, 5.0, clock=lambda: now[0])
    (frame,) = clip_frames(1)
    errors = metric("matthan_ingest_thumbnail_errors_total", "unit-broken")

    assert not writer.offer(frame)  # never raises: the camera's reader carries on
    assert not writer.offer(frame)  # and does not retry every frame
    assert metric("matthan_ingest_thumbnail_errors_total", "unit-broken") == errors + 1
    blocker.unlink()
    now[0] += 5.0
    assert writer.offer(frame)
    assert picture(writer.path.read_bytes()).shape[1] == 320


def test_small_pictures_are_never_scaled_up(tmp_path: Path) -> None:
    small = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 90, np.uint8), format="bgr24")
    assert picture(encode_thumbnail(small.reformat(format="yuv420p"))).shape == (120, 160, 3)
    target = tmp_path / "x.jpg"
    write_atomically(target, b"\xff\xd8one")
    write_atomically(target, b"\xff\xd8two")
    assert target.read_bytes() == b"\xff\xd8two"


@pytest.mark.parametrize("bad", ["../matthan", "a/b", "Cam", "", ".hidden", "x" * 64, "a\x00"])
def test_camera_ids_cannot_leave_the_folder(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="not a camera id"):
        thumbnail_path(tmp_path / "thumbnails", bad)


def test_the_folder_lies_next_to_the_database(tmp_path: Path) -> None:
    assert thumbnails_folder(tmp_path / "data" / "site.db") == tmp_path / "data" / "thumbnails"


# --- dashboard side: which picture is served ----------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("thumbs") / "site.db"
    fill_store(path, alerts_per_camera=1)
    return path


@pytest.fixture
def database(template: Path, tmp_path: Path) -> Path:
    return copy_store(template, tmp_path)


@pytest.fixture
def client(database: Path) -> Iterator[TestClient]:
    with TestClient(create_app(site_config(), database)) as test_client:
        login(test_client, "viewer")
        yield test_client


def publish(database: Path, camera_id: str, seed: int = 0, age_s: float = 0.0) -> Path:
    """Write a camera's thumbnail as ingest does (a real frame, scaled and encoded)."""
    frame = clip_frames(1 + seed)[-1]
    path = thumbnail_path(thumbnails_folder(database), camera_id)
    write_atomically(path, encode_thumbnail(frame))
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def listed(client: TestClient) -> dict[str, float | None]:
    return {cam["id"]: cam["thumbnail_at"] for cam in client.get("/api/cameras").json()}


def test_a_published_thumbnail_wins_and_revalidates(client: TestClient, database: Path) -> None:
    url = "/api/cameras/cho-gom/thumbnail.jpg"
    assert client.get(url).headers["etag"].startswith('"alert-')  # before ingest publishes
    path = publish(database, "cho-gom")
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == path.read_bytes()
    assert response.headers["cache-control"] == "no-store"  # a shared desk keeps no picture
    etag = response.headers["etag"]
    assert etag.startswith('"t-')
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert listed(client)["cho-gom"] == pytest.approx(path.stat().st_mtime)

    time.sleep(0.02)
    publish(database, "cho-gom", seed=20)  # the next picture, 2 s further into the clip
    newer = client.get(url, headers={"If-None-Match": etag})
    assert newer.status_code == 200
    assert newer.headers["etag"] != etag
    assert newer.content == path.read_bytes()
    assert listed(client)["cho-gom"] == pytest.approx(path.stat().st_mtime)


def test_a_stale_thumbnail_is_served_unless_an_alert_is_newer(
    client: TestClient, database: Path
) -> None:
    # The parking lot has no alert: its old picture is still the best there is.
    publish(database, "bai-xe", age_s=STALE_AFTER_S + 600)
    old = client.get("/api/cameras/bai-xe/thumbnail.jpg")
    assert old.status_code == 200
    assert old.headers["etag"].startswith('"t-')
    assert time.time() - (listed(client)["bai-xe"] or 0) > STALE_AFTER_S + 500
    # The dyke camera's alert came after its last published picture: the alert is newer.
    publish(database, "de-song", age_s=STALE_AFTER_S + 600)
    served = client.get("/api/cameras/de-song/thumbnail.jpg")
    assert served.headers["etag"].startswith('"alert-')
    assert picture(served.content).shape == (180, 320, 3)
    # A fresh picture wins over an older alert again.
    publish(database, "de-song")
    assert client.get("/api/cameras/de-song/thumbnail.jpg").headers["etag"].startswith('"t-')


def test_a_fresh_thumbnail_wins_without_a_store_query(database: Path) -> None:
    store = Store(database)
    try:
        thumbnails = Thumbnails(store, thumbnails_folder(database))
        publish(database, "cho-gom")
        add_alert(store, "cho-gom", seed=9)  # an alert a moment after the picture
        store.close()  # a fresh file must not need the store at all
        served = thumbnails.latest("cho-gom")
        assert served is not None
        assert served.etag.startswith('"t-')
    finally:
        store.close()


def test_ids_outside_the_folder_are_never_read(database: Path) -> None:
    folder = thumbnails_folder(database)
    folder.mkdir()
    (folder.parent / "secret.jpg").write_bytes(b"\xff\xd8secret")
    store = Store(database)
    try:
        thumbnails = Thumbnails(store, folder)
        for bad in ("../secret", "..%2Fsecret", "/etc/passwd", "SECRET"):
            assert thumbnails.newest(bad) is None
            assert thumbnails.latest(bad) is None
    finally:
        store.close()


# --- with the camera farm: ingest publishes, the dashboard serves -------------------------


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Callable[[SiteConfig], IngestRun]]:
    runs: list[IngestRun] = []

    def start(config: SiteConfig) -> IngestRun:
        run = IngestRun(config, tmp_path, RecordingConfig(enabled=False, path=tmp_path / "rec"))
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.close()


def replaced(path: Path, after_ns: int) -> Callable[[], bool]:
    return lambda: path.exists() and path.stat().st_mtime_ns > after_ns


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_ingest_publishes_thumbnails_that_the_dashboard_serves(
    ingest: Callable[[SiteConfig], IngestRun],
) -> None:
    clip = clips_dir() / PETS
    idle_motion = {"min_area": 1.0, "idle_keyframes_only_after_s": 0.5}  # never any motion
    with CameraFarm([Mount("farm-gate", clip), Mount("farm-idle", clip)]) as farm:
        config = site(
            [
                camera("farm-gate", farm.url("farm-gate")),
                camera("farm-idle", farm.url("farm-idle"), motion=idle_motion),
            ],
            thumbnail_interval_s=1,
        )
        run = ingest(config)
        folder = thumbnails_folder(run.database)
        gate, idle = folder / "farm-gate.jpg", folder / "farm-idle.jpg"
        wait_for(lambda: gate.exists() and idle.exists(), 20, "both thumbnails")
        assert picture(gate.read_bytes()).shape == (240, 320, 3)
        assert picture(idle.read_bytes()).shape == (240, 320, 3)

        started = time.monotonic()
        written = {
            cam: metric("matthan_ingest_thumbnails_total", cam)
            for cam in ("farm-gate", "farm-idle")
        }
        decoded = metric("matthan_ingest_frames_decoded_total", "farm-idle")
        first = gate.stat().st_mtime_ns
        wait_for(replaced(gate, first), 5, "a newer thumbnail of the streaming camera")
        # The idle camera is decoded keyframes only (every 2.5 s): its thumbnails come from
        # those keyframes, at that pace, and nothing more is decoded for them.
        first_idle = idle.stat().st_mtime_ns
        wait_for(replaced(idle, first_idle), 8, "a newer thumbnail of the idle camera")
        time.sleep(max(0.0, started + 6 - time.monotonic()))
        elapsed = time.monotonic() - started
        decoded_fps = (
            metric("matthan_ingest_frames_decoded_total", "farm-idle") - decoded
        ) / elapsed
        assert decoded_fps < 1.5, decoded_fps  # keyframes only, not 10 fps
        for cam, before in written.items():
            made = metric("matthan_ingest_thumbnails_total", cam) - before
            assert 1 <= made <= elapsed / 1.0 + 1, (cam, made, elapsed)  # once per interval
        assert picture(gate.read_bytes()).shape == (240, 320, 3)
        assert sorted(p.name for p in folder.iterdir()) == ["farm-gate.jpg", "farm-idle.jpg"]
        run.close()  # ingest stops: the pictures stay put for the checks below

    store = Store(run.database)
    try:
        Accounts(store).add_user("viewer", PASSWORD, Role.VIEWER, actor="test")
    finally:
        store.close()
    with TestClient(create_app(config, run.database), base_url="http://127.0.0.1") as client:
        url = "/api/cameras/farm-gate/thumbnail.jpg"
        assert client.get(url).status_code == 401
        login(client, "viewer")
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.content == gate.read_bytes()
        etag = response.headers["etag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        cameras = {cam["id"]: cam for cam in client.get("/api/cameras").json()}
        assert cameras["farm-idle"]["thumbnail_at"] == pytest.approx(idle.stat().st_mtime)


# --- the wall in Chromium ---------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_the_wall_shows_published_pictures_and_the_age_of_old_ones(database: Path) -> None:
    publish(database, "cho-gom")
    publish(database, "bai-xe", age_s=3 * 3600 + 60)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(site_config(), database), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", 20)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{base}/cameras")
            page.fill("#username", "viewer")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(f"{base}/cameras")
            fresh = page.locator('.tile[data-camera-id="cho-gom"]')
            old = page.locator('.tile[data-camera-id="bai-xe"]')
            expect(fresh.locator("img")).to_have_js_property("naturalWidth", 320)
            expect(old.locator("img")).to_have_js_property("naturalWidth", 320)
            expect(fresh.locator(".picture-age")).to_be_hidden()
            expect(old.locator(".picture-age")).to_have_text("Ảnh 3 giờ trước")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
