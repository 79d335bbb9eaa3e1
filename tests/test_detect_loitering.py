"""Loitering on the indoor clip: people walk in one by one, stand at a table, and leave.

In the first 90 s of ``intel_indoor_one_by_one_person.mp4`` four people stand at the table for
about 12, 20, 18 and 11 s each, walking in from the bottom and out to the right. A loitering
rule of 8 s on the floor around the table must fire once for each of them and end each alert
when they leave; a rule of 30 s must fire for none. The clip is read from the file at 5 fps on
its own clock and analysed by the real core (at 320 px: the people are large).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from common import alert_rows
from tests.detect_pipeline import STREAM_BASE, CorePipeline, frames_of, site
from tests.paths import clips_dir

CLIP = clips_dir() / "intel_indoor_one_by_one_person.mp4"
TABLE = {"name": "ban", "points": [[0.45, 0.8], [0.72, 0.8], [0.72, 0.96], [0.45, 0.96]]}
CAMERA: dict[str, Any] = {
    "id": "phong",
    "zones": [TABLE],
    "rules": [
        {"kind": "loitering", "name": "dung-lau", "zone": "ban", "min_dwell_s": 8, "cooldown_s": 0},
        {"kind": "loitering", "name": "dung-rat-lau", "zone": "ban", "min_dwell_s": 30},
    ],
}


@pytest.mark.timeout(180)
def test_loitering_fires_once_for_each_person_who_stands_at_the_table(tmp_path: Path) -> None:
    pipeline = CorePipeline(site(CAMERA, input_size=320), tmp_path)
    for t, image in frames_of(str(CLIP), fps=5.0, until_s=90.0):
        pipeline.analyse("phong", image, t)

    alerts = pipeline.alerts()
    assert {alert.rule for alert in alerts} == {"dung-lau"}
    assert len(alerts) == 4, [(a.track_id, a.started_at - STREAM_BASE) for a in alerts]
    assert len({alert.track_id for alert in alerts}) == 4
    arrivals = [alert.started_at - STREAM_BASE for alert in alerts]
    for arrival, expected in zip(arrivals, [7, 24, 51, 75], strict=True):
        assert abs(arrival - expected) <= 3, arrivals
    for alert in alerts:
        assert alert.kind == "loitering"
        assert alert.class_name == "person"
        assert alert.ended_at is not None, "the person left: the alert must be ended"
        assert alert.ended_at - alert.started_at >= 8
        assert alert_rows.snapshot(pipeline.store, alert.id, crop=True)
    pipeline.close()
