"""The benchmark harness runs end to end and writes its results (a few seconds of each
part: our pipeline on 2 farm cameras, the ultralytics baseline on 1, recall on one clip).
No timing is asserted: speed lives in the benchmark's results, not in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

pytestmark = pytest.mark.e2e

SUMMARY_KEYS = {
    "max_realtime_cameras",
    "baseline_max_realtime_cameras",
    "event_recall",
    "false_alerts_per_hour",
    "alert_latency_ms_p50",
    "alert_latency_ms_p99",
    "rss_mb_per_camera",
}


@pytest.mark.timeout(400)
def test_pipeline_benchmark_smoke(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pipeline_bench", "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=380,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = tmp_path.glob("smoke-*.json")
    report = json.loads(result.read_text(encoding="utf-8"))
    assert set(report["summary"]) >= SUMMARY_KEYS
    assert report["machine"]["cpu_model"]
    assert len(report["machine"]["git_commit"]) == 40
    (ours,) = report["ours"]
    assert ours["cameras"] == 2
    assert ours["analysis_fps_per_camera_median"] > 0
    (baseline,) = report["baseline"]
    assert baseline["cameras"] == 1
    assert baseline["fps_per_stream_median"] > 0
    assert report["recall"]["clips"][0]["reference_events"] >= 0
    assert (tmp_path / "smoke.png").stat().st_size > 10_000
