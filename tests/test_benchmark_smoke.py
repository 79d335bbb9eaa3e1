"""The benchmark harness runs end to end and writes its results (a few seconds of each
part: our pipeline on one farm camera of each mix, each ultralytics baseline on one camera,
recall of the configured detector mode on 3 s of one clip).
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
    "busy_max_realtime_cameras",
    "commune_max_realtime_cameras",
    "baseline_max_realtime_cameras",
    "baseline_openvino_max_realtime_cameras",
    "cameras_per_core",
    "event_recall",
    "false_alerts_per_hour",
    "alert_latency_ms_p50",
    "alert_latency_ms_p99",
    "rss_mb_per_camera",
    "machine",
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
    assert set(report["summary"]) == SUMMARY_KEYS
    assert report["machine"]["cpu_model"]
    assert len(report["machine"]["git_commit"]) == 40
    assert sorted(run["mix"] for run in report["ours"]) == ["busy", "commune"]
    for ours in report["ours"]:
        assert ours["cameras"] == 1
        assert ours["analysis_fps_per_camera_median"] > 0
        assert isinstance(ours["detector_counters"], dict)
    (baseline,) = report["baseline"]
    assert baseline["cameras"] == 1
    assert baseline["fps_per_stream_median"] > 0
    # Ultralytics' OpenVINO export needs the openvino package in .venv-ref; without it the
    # baseline is skipped with the reason, never silently.
    if report["baselines_skipped"].get("ultralytics-openvino"):
        assert report["baseline_openvino"] == []
    else:
        (openvino,) = report["baseline_openvino"]
        assert openvino["fps_per_stream_median"] > 0
    (mode,) = report["recall"]["summary"]
    assert mode == report["config"]["mode"]
    assert report["recall"]["clips"][0]["reference_events"] >= 0
    assert (tmp_path / "smoke.png").stat().st_size > 10_000
