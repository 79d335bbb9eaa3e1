"""The demo site's cameras all have a clip to play: the shared clips, and the gate camera's
clip made once from the plate photos."""

from __future__ import annotations

from pathlib import Path

from common.config import StorageConfig
from common.config_loader import load_site
from matthan.demo import farm_mounts
from tests.paths import REPO, plates_dir


def test_every_demo_camera_gets_a_clip_and_the_gate_clip_is_made_once(tmp_path: Path) -> None:
    plates_dir()
    site = load_site(REPO / "configs" / "demo.yaml")
    site = site.model_copy(update={"storage": StorageConfig(database=tmp_path / "demo.db")})
    port, mounts = farm_mounts(site)
    assert port == 8554
    assert len(mounts) == len(site.cameras)
    assert all(mount.clip.is_file() for mount in mounts), mounts
    gate = next(mount.clip for mount in mounts if mount.name == "plates-gate")
    assert gate.parent == tmp_path / "demo-clips"
    made = gate.stat().st_mtime_ns
    assert farm_mounts(site)[1][-1].clip.stat().st_mtime_ns == made
    reading = [camera.id for camera in site.cameras if camera.plates.enabled]
    assert reading == ["cong-bai-xe"]
