"""Line crossing on the PETS 2009 crossroads, served over RTSP by the camera farm, real model.

The farm serves the clip from frame 0 to its first client, stamping frame ``i`` at ``i / 10`` s,
so the stream time of a decoded frame tells which ground-truth frame it is (MOT frame ``i + 1``).
We analyse the first 8 s (the 80 frames with ground truth) at the production rate of 5 fps,
through the real detection core: model, ByteTrack, line rules, alerts in a real store.

The reference counts come from running the *same* rules on the ground-truth boxes and identities
(the same frames, the same feet anchors): what a perfect detector and tracker would give.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from common import alert_rows
from common.coco import COCO_CLASSES
from common.config import CameraConfig
from detect.detections import Detections
from detect.rules import CameraRules
from matthan.farm import CameraFarm, Mount
from tests.detect_pipeline import CorePipeline, frames_of, site
from tests.paths import clips_dir

CLIP = clips_dir() / "pets09_s2l1_vtest.mp4"
GROUND_TRUTH = clips_dir() / "pets09_s2l1_vtest.gt_frames0001-0080.txt"
GT_SIZE = (768, 576)
ANALYSIS_FPS = 5.0
CAMERA: dict[str, Any] = {
    "id": "nga-tu",
    "lines": [
        # Across the crossroads, left of the lamp post: people cross it both ways.
        {"name": "giua", "points": [[0.45, 0.25], [0.45, 0.65]], "in_side": "left"},
        # The road towards the bottom right, where walkers come up into the square.
        {"name": "phai", "points": [[0.7, 0.35], [0.7, 0.75]], "in_side": "left"},
    ],
    "rules": [
        {"kind": "line_crossing", "name": "qua-giua", "line": "giua", "cooldown_s": 0},
        {"kind": "line_crossing", "name": "qua-phai", "line": "phai", "cooldown_s": 0},
    ],
}


def ground_truth_counts(times: list[float]) -> dict[str, dict[str, int]]:
    """Crossings per rule and direction on the ground truth, at the analysed stream times."""
    truth = np.loadtxt(GROUND_TRUTH, delimiter=",")
    camera = CameraConfig.model_validate(site(CAMERA).cameras[0].model_dump())
    rules = CameraRules(camera, COCO_CLASSES, ZoneInfo("UTC"))
    for t in times:
        boxes = truth[truth[:, 0] == round(t * 10) + 1]
        x, y, w, h = boxes[:, 2:6].T
        tracked = Detections(
            xyxy=np.stack([x, y, x + w, y + h], axis=1).astype(np.float32),
            confidence=np.ones(len(boxes), np.float32),
            class_id=np.zeros(len(boxes), np.int32),
            tracker_id=boxes[:, 1].astype(np.int64),
        )
        rules.evaluate(tracked, *GT_SIZE, 1000.0 + t)
    return {watch.rule.name: dict(watch.counts) for watch in rules.watches}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def farm() -> Iterator[CameraFarm]:
    with CameraFarm([Mount("pets", CLIP)]) as running:
        yield running


@pytest.mark.timeout(120)
def test_line_counts_each_direction_like_the_ground_truth(farm: CameraFarm, tmp_path: Path) -> None:
    pipeline = CorePipeline(site(CAMERA), tmp_path)
    times = []
    for t, image in frames_of(farm.url("pets"), ANALYSIS_FPS, until_s=7.95):
        pipeline.analyse("nga-tu", image, t)
        times.append(t)
    assert len(times) >= 38, times  # 5 fps over 8 s, less the first frame of the session

    analysis = pipeline.core.camera("nga-tu")
    found = {watch.rule.name: dict(watch.counts) for watch in analysis.rules.watches}  # type: ignore[attr-defined]
    expected = ground_truth_counts(times)
    assert expected == {"qua-giua": {"in": 1, "out": 1}, "qua-phai": {"in": 0, "out": 3}}
    for rule, counts in expected.items():
        for direction, count in counts.items():
            assert abs(found[rule][direction] - count) <= 1, (rule, found, expected)
    assert found["qua-giua"]["in"] >= 1
    assert found["qua-giua"]["out"] >= 1

    # Every crossing alerted once (cooldown 0, direction both), as a person, with pictures.
    alerts = pipeline.alerts()
    assert len(alerts) == sum(sum(counts.values()) for counts in found.values())
    for alert in alerts:
        assert alert.kind == "line_crossing"
        assert alert.class_name == "person"
        assert alert.track_id is not None
        assert alert_rows.snapshot(pipeline.store, alert.id)
        assert alert_rows.snapshot(pipeline.store, alert.id, crop=True)
    pipeline.close()
