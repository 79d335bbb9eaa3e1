"""Regions mode end to end on real clips, the way live analysis picks and looks at frames.

Frames are picked by ingest's :class:`~ingest.picker.AnalysisPicker` (sampling, motion gate,
bursts) and looked at by the detection core's planner and looker with the real model, so each
test counts what the model was asked to look at.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from common import alert_rows
from common.alert_rows import LiveAlerts
from common.config import SiteConfig
from common.messages import FrameRef
from common.store import Store
from detect.alerts import AlertKeeper
from detect.core import CameraAnalysis, build_detector
from detect.looker import FrameLook, Looker, look_now
from detect.looks import Look
from ingest.decode import AnalysisScaler, luma
from ingest.motion import small_grey
from ingest.picker import AnalysisPicker
from tests.paths import clips_dir, models_dir

BASE = 1_800_000_000.0


def site_with(camera: dict[str, Any]) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"name": "test", "timezone": "UTC"},
            "detector": {
                "model": str(models_dir() / "yolov8n.onnx"),
                "mode": "regions",
                "region_size": 320,
                "threads": 2,
                "in_flight": 1,
            },
            "cameras": [{"name": "c", "id": "c", "detect_url": "rtsp://127.0.0.1/x", **camera}],
        }
    )


def whole_zone(kind: str, classes: list[str], **rule: Any) -> dict[str, Any]:
    return {
        "zones": [{"name": "all", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
        "rules": [
            {"kind": kind, "name": "r", "zone": "all", "classes": classes, "cooldown_s": 0, **rule}
        ],
    }


@dataclass
class Run:
    """What one clip cost and raised."""

    frames: int = 0
    looks: list[Look] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    tracked_classes: set[str] = field(default_factory=set)
    seen_at: list[float] = field(default_factory=list)
    """Stream times of the frames with a tracked object."""

    def looks_at(self, box: npt.NDArray[np.float32]) -> int:
        """Frames whose look covered ``box``."""
        return sum(any(r.contains(box[None, :])[0] for r in look.regions) for look in self.looks)


def decoded(clip: Path, until_s: float, speed: float = 1.0) -> Iterator[tuple[float, Any]]:
    """The clip's frames with their stream time divided by ``speed`` (2: twice as fast)."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base) / speed
            if t > until_s:
                return
            yield t, frame


def run_live_like(site: SiteConfig, clip: Path, until_s: float, speed: float = 1.0) -> Run:
    """Pick, look and analyse the clip's frames as the live pipeline would (one camera)."""
    camera = site.cameras[0]
    detector = build_detector(site)
    names = detector.class_names
    picker = AnalysisPicker(site.analysis_fps(camera), camera.motion)
    scale = AnalysisScaler(640)
    analysis = CameraAnalysis(site, camera, names, live=False)
    looker = Looker(detector, site.detector.region_size)
    run = Run()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "t.db")
        alerts = AlertKeeper(LiveAlerts(store), None, names, live=False)
        for t, frame in decoded(clip, until_s, speed):
            if not picker.due(t):
                continue
            verdict, _ = picker.judge(small_grey(luma(frame)), t)
            if not verdict.send:
                continue
            image = scale(frame)
            height, width = image.shape[:2]
            at = BASE + t
            ref = FrameRef("c", "", 0, 0, height, width, t, at, verdict.reason.value, verdict.boxes)
            look = FrameLook(image, analysis.plan(ref))
            found = look_now(looker, [look])[0]
            tracked = analysis.analyse(image, found, at, alerts, look.look)
            run.frames += 1
            run.looks.append(look.look)
            run.tracked_classes |= {names[c] for c in tracked.class_id.tolist()}
            if len(tracked):
                run.seen_at.append(t)
        run.alerts = [a.class_name for a in alert_rows.alerts_after(store, 0, limit=1000)]
        store.close()
    detector.backend.close()
    return run


def test_a_still_scene_costs_no_inference_between_refreshes() -> None:
    """The empty parking lot (real frames, real sensor noise, nothing in it): after the first
    look, the model runs only on the motion gate's periodic refresh, never per frame."""
    site = site_with(whole_zone("intrusion", ["person", "car"]))
    run = run_live_like(site, clips_dir() / "empty_parking_lot_pingpong.mp4", until_s=20.0)
    refreshes = 20.0 / site.cameras[0].motion.refresh_s
    assert run.frames <= refreshes + 2
    assert sum(look.infers for look in run.looks) <= refreshes + 2
    assert not run.alerts


def test_a_walker_crossing_in_about_a_second_raises_its_alert_thanks_to_the_burst() -> None:
    """The walking-by clip played three times as fast: the walker is in view for under two
    seconds and detectable in two stretches of a few tenths of a second each. His motion starts
    after stillness, so the camera bursts to 10 fps and he is seen often enough (three hits) to
    raise the alert; without the burst (5 fps) he is not."""
    clip = clips_dir() / "indoor_walking_by.mp4"
    rule = whole_zone("intrusion", ["person"], min_hits=3)
    for burst_s, alerted in ((2.0, True), (0.0, False)):
        site = site_with({**rule, "motion": {"burst_fps": 10, "burst_s": burst_s}})
        run = run_live_like(site, clip, until_s=18.5 / 3, speed=3.0)
        assert ("person" in run.alerts) == alerted, (burst_s, run.alerts, run.seen_at)
        if alerted:
            assert max(run.seen_at) - min(run.seen_at) < 2.0, run.seen_at
