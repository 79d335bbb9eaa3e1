"""Re-analysis at the HTTP edge: bad uploads get clear refusals and leave nothing behind,
recorded ranges are checked, and jobs are scoped, audited, cancelled and deleted.

The app is the real one on a real store (filled by :func:`tests.dashboard_site.fill_store`)
with ``max_upload_mb: 1``. Most requests go through the in-process client; the two size
limits are also tested on uvicorn over a raw socket, because only there does "refused
before the body is read" mean something: the server must answer 413 while the client is
still sending.

Only MP4/MOV, MKV, AVI and MPEG-TS files are taken, told by their first bytes before any
FFmpeg demuxer sees them: the tests spy on ``av.open`` (the :func:`opened` fixture) to see
that a refused file was never opened and an accepted one was opened with its container's
demuxer forced. Files FFmpeg would happily decode (an MPEG-PS, an FLV, an animated GIF) are
refused all the same.

What the probe makes of a cut-short MP4 depends on where its index (``moov``) is. The
shared clips have it at the start ("faststart"), so their first kilobytes open as MP4 but
hold no whole picture: refused (415, ``no_picture``). A cut that does hold the first
pictures (300 KB) is accepted; its job then ends where the data does (the runner's part).

Uploads have a total deadline (``reanalysis.upload_deadline_s``) besides the per-chunk stall
timeout, and the uploads in flight, the queued jobs and the bytes a user keeps are capped
(:mod:`dashboard.services.upload_limits`).
"""

from __future__ import annotations

import json
import select
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient

from common import jobs, recordings
from common.accounts import Accounts, Role
from common.config import ReanalysisConfig, SiteConfig
from common.jobs import JobSource, NewJob
from common.store import Store
from dashboard.app import create_app
from dashboard.auth import COOKIE, CSRF_HEADER
from dashboard.services import uploads
from dashboard.services.uploads import uploads_folder
from tests.conftest import free_port, wait_http
from tests.dashboard_site import (
    AREA_DYKE,
    PASSWORD,
    add_finished_job,
    copy_store,
    fill_store,
    login,
    site_config,
)
from tests.paths import clips_dir
from tests.video_files import cut_clip, encoded

MIB = 1024 * 1024
UPLOADS = "/api/reanalysis/uploads"
JOBS = "/api/reanalysis/jobs"


def small_site(**reanalysis: object) -> SiteConfig:
    config = ReanalysisConfig.model_validate({"max_upload_mb": 1, **reanalysis})
    return site_config().model_copy(update={"reanalysis": config})


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard's filled store plus an operator of the dyke area only."""
    database = tmp_path_factory.mktemp("reanalysis") / "site.db"
    fill_store(database)
    store = Store(database)
    try:
        Accounts(store).add_user(
            "dyke-operator", PASSWORD, Role.OPERATOR, actor="test", areas=(AREA_DYKE,)
        )
    finally:
        store.close()
    return database


@pytest.fixture
def database(template: Path, tmp_path: Path) -> Path:
    return copy_store(template, tmp_path)


@pytest.fixture
def client(database: Path) -> Iterator[TestClient]:
    with TestClient(create_app(small_site(), database)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Five seconds of the PETS crossroads (about 0.5 MB, under the 1 MB limit)."""
    path = tmp_path_factory.mktemp("clip") / "pets-5s.mp4"
    return cut_clip(clips_dir() / "pets09_s2l1_vtest.mp4", path, 5.0).read_bytes()


def picture(extension: str) -> bytes:
    image = np.zeros((240, 320, 3), np.uint8)
    cv2.rectangle(image, (40, 40), (200, 200), (0, 0, 255), -1)
    ok, encoded = cv2.imencode(extension, image)
    assert ok
    return encoded.tobytes()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every file opened for reading with PyAV from now on, and the demuxer it forced
    (None: FFmpeg was left to guess from the file's bytes)."""
    calls: list[tuple[str, str | None]] = []
    real = av.open

    def spy(file: Any, mode: Any = None, format: str | None = None, **options: Any) -> Any:
        if mode in (None, "r"):
            calls.append((str(file), format))
        return real(file, mode, format, **options)

    monkeypatch.setattr(av, "open", spy)
    return calls


def upload(client: TestClient, csrf: str, body: bytes, **params: str | float) -> dict[str, object]:
    """POST ``body`` as an upload for the market camera; returns status and JSON."""
    query = {"camera_id": "cho-gom", "filename": "clip.mp4", **params}
    response = client.post(UPLOADS, params=query, content=body, headers={CSRF_HEADER: csrf})
    return {"status": response.status_code, **response.json()}


def left_on_disk(database: Path) -> list[str]:
    folder = uploads_folder(database)
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def job_rows(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT id, source, state, upload_path FROM analysis_jobs").fetchall()


def audit_rows(database: Path, prefix: str = "reanalysis.") -> list[tuple[str, str, str]]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT action, target, detail FROM audit_log WHERE action LIKE ? ORDER BY id",
            (f"{prefix}%",),
        ).fetchall()


def assert_refused_cleanly(database: Path, answer: dict[str, object], status: int) -> None:
    assert answer["status"] == status, answer
    assert left_on_disk(database) == []
    assert job_rows(database) == []
    assert audit_rows(database) == []


# ---- uploads that are not video ------------------------------------------------------


NOT_ALLOWED: dict[str, Callable[[], bytes]] = {
    "MPEG-PS": lambda: encoded("mpeg", "mpeg2video"),
    "FLV": lambda: encoded("flv", "flv1"),
    "animated GIF": lambda: encoded("gif", "gif", "rgb8"),
    "HLS playlist": lambda: (
        b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n/etc/hostname\n#EXT-X-ENDLIST\n"
    ),
    "HTML": lambda: b"<!DOCTYPE html><html><body><video src=x.mp4></video></body></html>\n" * 20,
    "text": lambda: b"Bien ban so 17/2026\nNguoi lap: trucban\n" * 20,
    "random bytes": lambda: np.random.default_rng(16).bytes(64 * 1024),
}
"""Files of containers the station does not take; the first three are real videos FFmpeg
decodes (and that the dashboard used to queue)."""


@pytest.mark.parametrize("kind", sorted(NOT_ALLOWED))
def test_a_container_outside_the_allow_list_is_refused_unopened(
    client: TestClient, database: Path, opened: list[tuple[str, str | None]], kind: str
) -> None:
    """Refused from its first bytes: no demuxer ever probed it, no job, nothing on disk."""
    body = NOT_ALLOWED[kind]()
    opened.clear()  # encoding the body opened nothing for reading, but be sure
    csrf = login(client, "operator")
    answer = upload(client, csrf, body, filename="camera-3.mp4")
    assert_refused_cleanly(database, answer, 415)
    reason = "it is not an MP4, MOV, MKV, AVI or TS file"
    assert answer["detail"] == {
        "code": "container",
        "message": f"not a video file: {reason}",
        "reason": reason,
    }
    assert opened == []


@pytest.mark.parametrize(
    "case",
    [
        ("matroska", "mpeg4", "matroska"),
        ("avi", "mpeg4", "avi"),
        ("mpegts", "mpeg2video", "mpegts"),
    ],
)
def test_each_allowed_container_is_opened_with_its_own_demuxer(
    client: TestClient,
    database: Path,
    opened: list[tuple[str, str | None]],
    case: tuple[str, str, str],
) -> None:
    container, codec, demuxer = case
    body = encoded(container, codec)
    opened.clear()
    csrf = login(client, "operator")
    answer = upload(client, csrf, body, filename=f"clip.{container}")
    assert answer["status"] == 201, answer
    assert opened
    assert {format for _, format in opened} == {demuxer}
    assert len(job_rows(database)) == 1


def test_an_mp4_is_opened_with_the_mov_demuxer(
    client: TestClient, clip: bytes, opened: list[tuple[str, str | None]]
) -> None:
    csrf = login(client, "operator")
    assert upload(client, csrf, clip)["status"] == 201
    assert opened
    assert {format for _, format in opened} == {"mov"}


@pytest.mark.parametrize("extension", [".png", ".jpg"])
def test_a_picture_renamed_mp4_is_not_a_video(
    client: TestClient, database: Path, extension: str
) -> None:
    """FFmpeg opens a PNG or JPEG as a one-frame stream; the probe knows better."""
    csrf = login(client, "operator")
    answer = upload(client, csrf, picture(extension), filename="camera-3.mp4")
    assert_refused_cleanly(database, answer, 415)
    reason = f"it is a still picture ({'png' if extension == '.png' else 'jpeg'})"
    assert answer["detail"] == {
        "code": "picture",
        "message": f"not a video file: {reason}",
        "reason": reason,
    }


@pytest.mark.parametrize(
    "case",
    [
        (True, "no_picture", "not a video file: no picture could be decoded from its start"),
        (False, "unreadable", "not a video file: it cannot be read as video"),
    ],
)
def test_the_first_kilobytes_of_an_mp4_are_refused(
    client: TestClient, database: Path, clip: bytes, case: tuple[bool, str, str]
) -> None:
    """The shared clip keeps its index first: its head opens but holds no whole picture.
    A remuxed cut keeps its index last: its head cannot even be opened."""
    faststart, code, message = case
    csrf = login(client, "operator")
    whole = (clips_dir() / "pets09_s2l1_vtest.mp4").read_bytes() if faststart else clip
    answer = upload(client, csrf, whole[:8000])
    assert_refused_cleanly(database, answer, 415)
    detail = answer["detail"]
    assert isinstance(detail, dict)
    assert detail["code"] == code
    assert detail["message"].startswith(message)


def test_an_empty_body_is_refused(client: TestClient, database: Path) -> None:
    csrf = login(client, "operator")
    answer = upload(client, csrf, b"")
    assert_refused_cleanly(database, answer, 422)
    assert answer["detail"] == {"code": "empty", "message": "the file is empty"}


# ---- uploads that are too large ------------------------------------------------------


def test_too_large_with_content_length_is_refused(client: TestClient, database: Path) -> None:
    csrf = login(client, "operator")
    answer = upload(client, csrf, b"\0" * (MIB + 1))
    assert_refused_cleanly(database, answer, 413)
    assert answer["detail"] == {
        "code": "too_large",
        "message": "the file is larger than the 1 MB allowed",
        "max_mb": 1.0,
    }


def test_too_large_without_content_length_is_refused(client: TestClient, database: Path) -> None:
    """A chunked body carries no length: it is counted as it comes."""
    csrf = login(client, "operator")

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"\0" * 64 * 1024

    response = client.post(
        UPLOADS,
        params={"camera_id": "cho-gom", "filename": "big.mp4"},
        content=chunks(),
        headers={CSRF_HEADER: csrf},
    )
    assert_refused_cleanly(database, {"status": response.status_code}, 413)
    assert response.json()["detail"]["code"] == "too_large"


class Served:
    """The app under uvicorn in a thread, with sessions of the operator and the admin for
    raw requests."""

    def __init__(self, database: Path, site: SiteConfig | None = None) -> None:
        self.database = database
        self.port = free_port()
        site = site or small_site()
        config = uvicorn.Config(
            create_app(site, database), host="127.0.0.1", port=self.port, log_level="error"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn")
        self.thread.start()
        wait_http(f"http://127.0.0.1:{self.port}/healthz", 20)
        self.sessions: dict[str, tuple[str, str]] = {}
        for username in ("operator", "admin"):
            with TestClient(create_app(site, database)) as client:
                csrf = login(client, username)
                self.sessions[username] = (csrf, client.cookies[COOKIE])

    def head(self, *lines: str, user: str = "operator") -> bytes:
        csrf, cookie = self.sessions[user]
        return "\r\n".join(
            [
                f"POST {UPLOADS}?camera_id=cho-gom&filename=big.mp4 HTTP/1.1",
                f"Host: 127.0.0.1:{self.port}",
                f"Cookie: {COOKIE}={cookie}",
                f"{CSRF_HEADER}: {csrf}",
                "Content-Type: application/octet-stream",
                *lines,
                "",
                "",
            ]
        ).encode()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def served(database: Path) -> Iterator[Served]:
    running = Served(database)
    yield running
    running.stop()


def answer_of(sock: socket.socket) -> tuple[int, dict[str, object]]:
    """Status and JSON body of the response waiting on ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_declared_length_over_the_limit_is_refused_before_the_body(served: Served) -> None:
    """Only the headers are sent: the answer comes without waiting for a byte of body."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(served.head(f"Content-Length: {50 * MIB}"))
        status, body = answer_of(sock)
    assert status == 413
    assert body["detail"]["code"] == "too_large"  # type: ignore[index]
    assert left_on_disk(served.database) == []
    assert job_rows(served.database) == []


def test_a_chunked_body_over_the_limit_is_cut_off(served: Served) -> None:
    """The server stops reading once past the limit: its 413 arrives while the client is
    still sending, long before the 64 MB it meant to send, and the part file is gone."""
    sent, total = 0, 64 * MIB
    chunk = b"\0" * (64 * 1024)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(served.head("Transfer-Encoding: chunked"))
        while sent < total and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, body = answer_of(sock)
    assert status == 413
    assert body["detail"]["code"] == "too_large"  # type: ignore[index]
    assert sent < total / 2
    deadline = time.monotonic() + 5
    while left_on_disk(served.database) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left_on_disk(served.database) == []
    assert job_rows(served.database) == []


def test_a_stalled_upload_is_refused_and_its_part_file_deleted(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that starts sending and then goes quiet does not hold a part file for ever."""
    monkeypatch.setattr(uploads, "STALL_TIMEOUT_S", 1.0)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(served.head("Transfer-Encoding: chunked"))
        sock.sendall(b"%x\r\n%s\r\n" % (1024, b"\0" * 1024))
        started = time.monotonic()
        status, body = answer_of(sock)
    assert status == 408
    assert body["detail"]["code"] == "stalled"  # type: ignore[index]
    assert time.monotonic() - started < 8
    assert left_on_disk(served.database) == []
    assert job_rows(served.database) == []


def test_a_slow_drip_upload_is_cut_at_the_deadline(database: Path) -> None:
    """A byte every 0.2 s never trips the per-chunk stall timeout, but the whole upload must
    arrive within ``upload_deadline_s`` (2 s here): it is cut then, its part file deleted."""
    served = Served(database, small_site(upload_deadline_s=2))
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(served.head("Transfer-Encoding: chunked"))
            started = time.monotonic()
            while not select.select([sock], [], [], 0.2)[0]:
                assert time.monotonic() - started < 8, "the drip was never cut off"
                sock.sendall(b"1\r\n\0\r\n")
            status, body = answer_of(sock)
        waited = time.monotonic() - started
    finally:
        served.stop()
    assert status == 408
    assert body["detail"] == {
        "code": "too_slow",
        "message": "the upload took longer than the 2 s allowed",
        "max_s": 2.0,
    }
    assert 2 <= waited < 4
    assert left_on_disk(database) == []
    assert job_rows(database) == []


def open_upload(served: Served, user: str) -> socket.socket:
    """An upload that has begun (its headers and a first chunk sent) and waits for more."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    sock.sendall(served.head("Transfer-Encoding: chunked", user=user))
    sock.sendall(b"%x\r\n%s\r\n" % (1024, b"\0" * 1024))
    return sock


def upload_now(served: Served, body: bytes, user: str) -> tuple[int, dict[str, object]]:
    """A whole upload of ``body`` as ``user``; its status and JSON."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(served.head(f"Content-Length: {len(body)}", user=user) + body)
        return answer_of(sock)


def test_uploads_at_once_are_capped_per_user_and_in_all(database: Path) -> None:
    """One upload at a time per user and in all: while the operator's first upload is being
    received, their second is refused at once (429), and so is the admin's (the station's
    cap); once the first ends, its slot is free again."""
    served = Served(database, small_site(max_uploads=1, max_uploads_per_user=1))
    video = encoded("matroska", "mpeg4")
    try:
        first = open_upload(served, "operator")
        time.sleep(0.5)  # the server has taken the first one in
        assert upload_now(served, video, "operator") == (
            429,
            {
                "detail": {
                    "code": "uploads_per_user",
                    "message": "you are already sending 1 files; wait for one to finish",
                    "max_uploads": 1,
                }
            },
        )
        assert upload_now(served, video, "admin") == (
            429,
            {
                "detail": {
                    "code": "uploads_busy",
                    "message": "the station is already receiving 1 files; try again when one"
                    " has finished",
                    "max_uploads": 1,
                }
            },
        )
        assert job_rows(database) == []
        first.close()
        deadline = time.monotonic() + 5
        status, answer = upload_now(served, video, "admin")
        while status == 429 and time.monotonic() < deadline:
            time.sleep(0.1)
            status, answer = upload_now(served, video, "admin")
        assert status == 201, answer
    finally:
        served.stop()
    assert len(job_rows(database)) == 1


def add_queued(database: Path, username: str, count: int) -> None:
    """``count`` range jobs of ``username`` waiting in the queue."""
    store = Store(database)
    try:
        for _ in range(count):
            new = NewJob("cho-gom", JobSource.RECORDING, 1000.0, 1600.0, created_by=username)
            jobs.add_job(store, new)
    finally:
        store.close()


def test_queued_jobs_are_capped_per_user_and_in_all(database: Path) -> None:
    """Two waiting jobs per user, three in all: the operator's third job is refused, by
    range or by upload (before its body is stored); the admin's first is let in, the
    admin's second finds the queue full. A job that runs frees its place."""
    now = time.time()
    add_recording(database, "cho-gom", now - 1200, now - 10)
    add_queued(database, "operator", 2)
    site = small_site(max_queued_jobs=3, max_queued_jobs_per_user=2)
    video = encoded("matroska", "mpeg4")
    body = {"camera_id": "cho-gom", "start": now - 600, "end": now - 60}
    with TestClient(create_app(site, database)) as client:
        csrf = login(client, "operator")
        mine = {
            "code": "queue_full_user",
            "message": "you already have 2 jobs waiting; wait for some to run or cancel them",
            "max_jobs": 2,
        }
        response = client.post(JOBS, json=body, headers={CSRF_HEADER: csrf})
        assert (response.status_code, response.json()) == (429, {"detail": mine})
        answer = upload(client, csrf, video)
        assert answer == {"status": 429, "detail": mine}
        assert left_on_disk(database) == []

        csrf = login(client, "admin")
        response = client.post(JOBS, json=body, headers={CSRF_HEADER: csrf})
        assert response.status_code == 201, response.text
        everyone = {
            "code": "queue_full",
            "message": "3 jobs are already waiting; try again when some have run",
            "max_jobs": 3,
        }
        answer = upload(client, csrf, video)
        assert answer == {"status": 429, "detail": everyone}
        assert left_on_disk(database) == []
        assert len(job_rows(database)) == 3

        store = Store(database)
        try:
            assert jobs.claim_next(store) is not None  # the runner takes one
        finally:
            store.close()
        assert upload(client, csrf, video)["status"] == 201


def test_stored_uploads_are_capped_per_user(database: Path) -> None:
    """Each user may keep 10 KiB of uploads here: the operator's third 4 KB video is refused
    (413) and not stored, the admin's is taken; deleting a finished job makes room."""
    video = encoded("matroska", "mpeg4")
    assert 3_500 < len(video) < 5_000
    site = small_site(max_stored_mb_per_user=0.01)
    quota = {
        "code": "upload_quota",
        "message": "your uploaded files would take more than the 0.01 MB each user may keep;"
        " delete finished jobs to make room",
        "max_mb": 0.01,
    }
    with TestClient(create_app(site, database)) as client:
        csrf = login(client, "operator")
        first = upload(client, csrf, video)
        assert first["status"] == 201, first
        assert upload(client, csrf, video)["status"] == 201
        stored = left_on_disk(database)
        assert upload(client, csrf, video) == {"status": 413, "detail": quota}
        assert left_on_disk(database) == stored
        assert len(job_rows(database)) == 2

        admin_csrf = login(client, "admin")
        assert upload(client, admin_csrf, video)["status"] == 201

        csrf = login(client, "operator")
        headers = {CSRF_HEADER: csrf}
        assert client.post(f"{JOBS}/{first['id']}/cancel", headers=headers).status_code == 200
        assert client.delete(f"{JOBS}/{first['id']}", headers=headers).status_code == 204
        assert upload(client, csrf, video)["status"] == 201


# ---- uploads that are accepted -------------------------------------------------------


def test_a_real_clip_is_queued(client: TestClient, database: Path, clip: bytes) -> None:
    csrf = login(client, "operator")
    recorded_at = time.time() - 3600
    answer = upload(client, csrf, clip, filename="Camera cổng chợ.mp4", start=recorded_at)
    assert answer["status"] == 201, answer
    assert answer["source"] == "upload"
    assert answer["state"] == "queued"
    assert answer["upload_name"] == "Camera cổng chợ.mp4"
    assert answer["start"] == pytest.approx(recorded_at)
    assert answer["end"] == pytest.approx(recorded_at + 5.0, abs=0.2)
    assert answer["created_by"] == "operator"
    assert "upload_path" not in answer
    (stored,) = left_on_disk(database)
    assert stored.endswith(".video")
    assert (uploads_folder(database) / stored).read_bytes() == clip
    ((job_id, source, state, path),) = job_rows(database)
    assert (job_id, source, state) == (answer["id"], "upload", "queued")
    assert Path(str(path)) == uploads_folder(database) / stored
    ((action, target, detail),) = audit_rows(database)
    assert (action, target) == ("reanalysis.queue", "cho-gom")
    assert json.loads(detail) == {"job": job_id, "file": "Camera cổng chợ.mp4"}


def test_without_a_recording_time_the_upload_time_is_taken(client: TestClient, clip: bytes) -> None:
    csrf = login(client, "operator")
    before = time.time()
    answer = upload(client, csrf, clip)
    assert answer["status"] == 201, answer
    assert before <= float(answer["start"]) <= time.time()  # type: ignore[arg-type]


def test_a_recording_time_in_the_future_is_refused(
    client: TestClient, database: Path, clip: bytes
) -> None:
    csrf = login(client, "operator")
    answer = upload(client, csrf, clip, start=time.time() + 3600)
    assert_refused_cleanly(database, answer, 422)
    assert answer["detail"]["code"] == "start_future"  # type: ignore[index]


@pytest.mark.parametrize(
    "filename",
    ["../../../../etc/passwd", "..\\..\\windows\\system32\\x.mp4", "/tmp/evil.mp4", "a\x00b.mp4"],
)
def test_the_file_name_is_never_a_path(
    client: TestClient, database: Path, clip: bytes, filename: str
) -> None:
    csrf = login(client, "operator")
    answer = upload(client, csrf, clip, filename=filename)
    assert answer["status"] == 201, answer
    shown = str(answer["upload_name"])
    assert "/" not in shown
    assert "\\" not in shown
    assert "\x00" not in shown
    (stored,) = left_on_disk(database)
    assert stored.endswith(".video")
    assert not Path("/tmp/evil.mp4").exists()
    beside_the_store = {p.name for p in database.parent.iterdir()}
    dashboard_files = {"vapid.pem"}  # the Web Push key, made at the app's first start
    assert beside_the_store <= {
        "site.db",
        "site.db-wal",
        "site.db-shm",
        "uploads",
        *dashboard_files,
    }


def test_an_upload_for_a_camera_outside_the_users_area_is_not_found(
    client: TestClient, database: Path, clip: bytes
) -> None:
    csrf = login(client, "dyke-operator")
    answer = upload(client, csrf, clip)
    assert_refused_cleanly(database, answer, 404)
    assert answer["detail"]["code"] == "no_camera"  # type: ignore[index]
    answer = upload(client, csrf, clip, camera_id="de-song")
    assert answer["status"] == 201, answer


def test_a_viewer_may_not_upload(client: TestClient, database: Path, clip: bytes) -> None:
    csrf = login(client, "viewer")
    assert_refused_cleanly(database, upload(client, csrf, clip), 403)


# ---- recorded ranges -----------------------------------------------------------------


def add_recording(database: Path, camera_id: str, start: float, end: float) -> None:
    store = Store(database)
    try:
        recordings.add_segment(store, camera_id, start=start, end=end, path="/nowhere", size=1)
    finally:
        store.close()


@pytest.mark.parametrize(
    "case",
    [
        # camera, start and end (seconds from now), status, code
        ("cho-gom", -600, -600, 422, "range_order"),
        ("cho-gom", -300, -600, 422, "range_order"),
        ("cho-gom", 60, 600, 422, "range_future"),
        ("cho-gom", -25 * 3600, -60, 422, "range_too_long"),
        ("cho-gom", -7200, -6000, 422, "nothing_recorded"),
        ("khong-co", -600, -60, 404, "no_camera"),
    ],
)
def test_a_bad_range_is_refused(
    client: TestClient, database: Path, case: tuple[str, int, int, int, str]
) -> None:
    """max_range_h is 24 by default; the market camera recorded the last 20 minutes."""
    camera, start, end, status, code = case
    now = time.time()
    add_recording(database, "cho-gom", now - 1200, now - 10)
    csrf = login(client, "operator")
    body = {"camera_id": camera, "start": now + start, "end": now + end}
    response = client.post(JOBS, json=body, headers={CSRF_HEADER: csrf})
    assert response.status_code == status, response.text
    assert response.json()["detail"]["code"] == code
    assert job_rows(database) == []


@pytest.mark.parametrize("body", [{"camera_id": "cho-gom", "start": "NaN", "end": 2}, {"start": 1}])
def test_a_malformed_range_is_a_validation_error(client: TestClient, body: object) -> None:
    csrf = login(client, "operator")
    response = client.post(JOBS, json=body, headers={CSRF_HEADER: csrf})
    assert response.status_code == 422


def test_a_range_is_queued_and_an_end_to_come_is_cut_at_now(
    client: TestClient, database: Path
) -> None:
    now = time.time()
    add_recording(database, "cho-gom", now - 1200, now - 10)
    csrf = login(client, "operator")
    body = {"camera_id": "cho-gom", "start": now - 600, "end": now + 600}
    response = client.post(JOBS, json=body, headers={CSRF_HEADER: csrf})
    assert response.status_code == 201, response.text
    job = response.json()
    assert (job["source"], job["state"], job["camera_name"]) == ("recording", "queued", "Chợ Gốm")
    assert job["start"] == pytest.approx(now - 600)
    assert now <= job["end"] <= time.time()
    ((action, target, detail),) = audit_rows(database)
    assert (action, target) == ("reanalysis.queue", "cho-gom")
    assert json.loads(detail) == {
        "job": job["id"],
        "from": int(job["start"]),
        "to": int(job["end"]),
    }


def test_the_range_limit_comes_from_the_config(database: Path) -> None:
    now = time.time()
    add_recording(database, "cho-gom", now - 3 * 3600, now - 10)
    with TestClient(create_app(small_site(max_range_h=1), database)) as client:
        csrf = login(client, "operator")
        body = {"camera_id": "cho-gom", "start": now - 7200, "end": now - 60}
        response = client.post(JOBS, json=body, headers={CSRF_HEADER: csrf})
        assert response.status_code == 422
        assert response.json()["detail"] == {
            "code": "range_too_long",
            "message": "the range is longer than 1 h",
            "max_h": 1.0,
        }
        assert client.get("/api/reanalysis/limits").json() == {
            "enabled": True,
            "max_upload_mb": 1.0,
            "max_range_h": 1.0,
        }


def test_switched_off_no_job_can_be_queued(database: Path, clip: bytes) -> None:
    now = time.time()
    add_recording(database, "cho-gom", now - 1200, now - 10)
    with TestClient(create_app(small_site(enabled=False), database)) as client:
        csrf = login(client, "operator")
        body = {"camera_id": "cho-gom", "start": now - 600, "end": now - 60}
        response = client.post(JOBS, json=body, headers={CSRF_HEADER: csrf})
        assert response.status_code == 409
        assert response.json()["detail"]["code"] == "disabled"
        assert_refused_cleanly(database, upload(client, csrf, clip), 409)
        assert client.get(JOBS).status_code == 200  # old jobs stay readable
        assert client.get("/api/reanalysis/limits").json()["enabled"] is False


# ---- reading, scoping, cancelling, deleting ------------------------------------------


def test_findings_are_shaped_like_alerts_and_scoped_by_area(database: Path) -> None:
    store = Store(database)
    try:
        market = add_finished_job(store, "cho-gom", findings=2)
        dyke = add_finished_job(store, "de-song", findings=1)
    finally:
        store.close()
    with TestClient(create_app(small_site(), database)) as client:
        login(client, "viewer")  # reading is for every role, like alerts
        assert [job["id"] for job in client.get(JOBS).json()] == [dyke, market]
        detail = client.get(f"{JOBS}/{market}").json()
        assert detail["job"]["state"] == "done"
        assert detail["job"]["progress"] == 1.0
        assert detail["job"]["alerts"] == 2
        first = detail["findings"][0]
        assert first["camera_name"] == "Chợ Gốm"
        assert (first["kind"], first["class_name"], first["rule"]) == (
            "intrusion",
            "person",
            "nguoi-vao-cho",
        )
        for url in (first["snapshot_url"], first["crop_url"]):
            picture = client.get(url)
            assert picture.status_code == 200
            assert picture.headers["content-type"] == "image/jpeg"
            assert picture.content[:2] == b"\xff\xd8"
        page = client.get(f"{JOBS}/{market}", params={"after": first["id"]}).json()
        assert [f["id"] for f in page["findings"]] == [detail["findings"][1]["id"]]
        assert [job["id"] for job in client.get(JOBS, params={"before": dyke}).json()] == [market]

    with TestClient(create_app(small_site(), database)) as client:
        csrf = login(client, "dyke-operator")
        assert [job["id"] for job in client.get(JOBS).json()] == [dyke]
        assert client.get(f"{JOBS}/{market}").status_code == 404
        assert client.get(first["snapshot_url"]).status_code == 404
        headers = {CSRF_HEADER: csrf}
        assert client.post(f"{JOBS}/{market}/cancel", headers=headers).status_code == 404
        assert client.delete(f"{JOBS}/{market}", headers=headers).status_code == 404


def test_cancel_then_delete_removes_the_job_and_its_file(
    client: TestClient, database: Path, clip: bytes
) -> None:
    csrf = login(client, "operator")
    headers = {CSRF_HEADER: csrf}
    job_id = upload(client, csrf, clip)["id"]
    assert left_on_disk(database)
    response = client.delete(f"{JOBS}/{job_id}", headers=headers)
    assert response.status_code == 409
    assert response.json()["detail"]["code"] == "not_finished"

    cancelled = client.post(f"{JOBS}/{job_id}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    again = client.post(f"{JOBS}/{job_id}/cancel", headers=headers)
    assert again.status_code == 409
    assert again.json()["detail"]["code"] == "finished"

    assert client.delete(f"{JOBS}/{job_id}", headers=headers).status_code == 204
    assert left_on_disk(database) == []
    assert job_rows(database) == []
    assert client.get(f"{JOBS}/{job_id}").status_code == 404
    actions = [row[0] for row in audit_rows(database)]
    assert actions == ["reanalysis.queue", "reanalysis.cancel", "reanalysis.delete"]


def test_a_running_job_is_asked_to_stop(client: TestClient, database: Path, clip: bytes) -> None:
    csrf = login(client, "operator")
    job_id = upload(client, csrf, clip)["id"]
    store = Store(database)
    try:
        claimed = jobs.claim_next(store)  # as the runner would
    finally:
        store.close()
    assert claimed is not None
    response = client.post(f"{JOBS}/{job_id}/cancel", headers={CSRF_HEADER: csrf})
    assert response.status_code == 200
    assert response.json()["state"] == "running"
    assert response.json()["cancel_requested"] is True
