"""Clips cut from real recorded segments: they play, cover the window across segment
joins, and the manifest's SHA-256 matches the file."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import av
import pytest
from prometheus_client import REGISTRY

from common import recordings
from common.config import RecordingConfig
from common.evidence import NoFootageError, cut_clip, exports_folder, write_manifest
from common.recordings import Segment
from common.store import Store
from ingest.retention import RetentionSweeper
from matthan.farm import CameraFarm, Mount
from tests.paths import clips_dir
from tests.test_ingest import IngestRun, camera, site, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[Segment]:
    """About 12 s of the PETS clip recorded in 3 s segments by the real ingest worker."""
    folder = tmp_path_factory.mktemp("evidence")
    with CameraFarm([Mount("cam", clips_dir() / "pets09_s2l1_vtest.mp4")]) as farm:
        run = IngestRun(
            site([camera("cam", farm.url("cam"))]),
            folder,
            RecordingConfig(path=folder / "rec", segment_s=3),
        )
        try:
            wait_for(lambda: len(recordings.segments(run.store, "cam")) >= 3, 40, "segments")
        finally:
            run.close()
    return recordings.segments(Store(run.database), "cam")


def frames_and_duration(path: Path) -> tuple[int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base  # read while open: PyAV 18.1.1 refuses a closed stream's
        frames = list(container.decode(stream))
    assert time_base is not None
    return len(frames), float((frames[-1].pts - frames[0].pts) * time_base)


def test_clip_spans_a_segment_join(recorded: list[Segment], tmp_path: Path) -> None:
    join = recorded[0].end
    clip = cut_clip(recorded, join - 2.0, join + 2.0, tmp_path / "clip.mp4")
    frames, duration = frames_and_duration(tmp_path / "clip.mp4")
    # Starts on the keyframe at or before the window (up to one 2.5 s GOP early).
    assert 4.0 - 0.3 <= duration <= 4.0 + 2.5 + 0.3
    assert frames >= 35
    assert clip.start <= join - 2.0 + 0.01
    assert clip.sha256 == hashlib.sha256((tmp_path / "clip.mp4").read_bytes()).hexdigest()


def test_manifest_matches_files(recorded: list[Segment], tmp_path: Path) -> None:
    start = recorded[0].start + 1
    clip = cut_clip(recorded, start, start + 3, tmp_path / "cam.mp4")
    manifest = write_manifest(tmp_path, [clip], "operator1", "case 17/2026", (start, start + 3))
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert data["exported_by"] == "operator1"
    assert data["reason"] == "case 17/2026"
    (entry,) = data["files"]
    assert entry["sha256"] == hashlib.sha256((tmp_path / entry["name"]).read_bytes()).hexdigest()


def test_window_without_footage(recorded: list[Segment], tmp_path: Path) -> None:
    before = recorded[0].start - 1000
    window = f"no recording between {before:.0f} and {before + 5:.0f}"
    with pytest.raises(NoFootageError, match=f"^{window}$"):
        cut_clip(recorded, before, before + 5, tmp_path / "none.mp4")
    assert not list(tmp_path.iterdir())


def export(
    recorded: list[Segment], exports: Path, export_id: str, start: float, age_days: float
) -> Path:
    """An export as the dashboard makes it (a 2 s clip from ``start`` and its manifest),
    made ``age_days`` ago."""
    folder = exports / export_id
    folder.mkdir(parents=True)
    clip = cut_clip(recorded, start, start + 2, folder / "cam.mp4")
    manifest = write_manifest(folder, [clip], "operator1", "case 17/2026", (start, start + 2))
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["exported_at"] = time.time() - age_days * 86400
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_retention_removes_old_exports_but_not_those_on_legal_hold(
    recorded: list[Segment], tmp_path: Path
) -> None:
    """Exports past ``recording.exports_retain_days`` go (folder and ZIP); one whose footage
    is still on legal hold stays, however old; recent ones and unknown names stay."""
    store = Store(tmp_path / "store.db")
    exports = exports_folder(store.path)
    old, held, recent = "a" * 32, "b" * 32, "c" * 32
    first, last = recorded[0].start + 0.5, recorded[-1].end - 2.5  # footage far apart
    for export_id, start, age in ((old, first, 8), (held, last, 30), (recent, first, 1)):
        export(recorded, exports, export_id, start, age)
    (exports / f"{old}.zip").write_bytes(b"zip")
    entry = json.loads((exports / held / "manifest.json").read_text(encoding="utf-8"))["files"][0]
    recordings.add_legal_hold(
        store, "cam", start=entry["start"], end=entry["end"], reason="case", by="op", at=0
    )
    stray = exports / "notes.txt"
    stray.write_text("not an export", encoding="utf-8")
    deleted = REGISTRY.get_sample_value("matthan_exports_deleted_total") or 0.0
    config = RecordingConfig(path=tmp_path / "rec", exports_retain_days=7)

    RetentionSweeper(store, config, exports=exports).sweep(time.time())

    assert sorted(p.name for p in exports.iterdir()) == sorted([held, recent, "notes.txt"])
    assert REGISTRY.get_sample_value("matthan_exports_deleted_total") == deleted + 1
    with store.transaction() as db:  # the case is closed: the hold is lifted
        db.execute("DELETE FROM legal_holds")
    RetentionSweeper(store, config, exports=exports).sweep(time.time())
    assert sorted(p.name for p in exports.iterdir()) == sorted([recent, "notes.txt"])
    store.close()
