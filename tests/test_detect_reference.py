"""Our batched OpenVINO path gives ultralytics' own detections, at batch 1 and batch 8.

Ultralytics (with torch) lives in a separate venv, ``.venv-ref``, made by ``scripts/install
--dev``; the project's venv stays torch-free. The test decodes real frames of several clips,
runs ``tests/ultralytics_reference.py`` there on the very same pixels with ``yolov8n.pt``, and
compares with our ``Detector`` on ``yolov8n.onnx`` (the same weights, exported): every box
scoring at least :data:`COMPARED_FROM` on either side has a twin of the same class with
IoU >= 0.9 and a score within 0.05.

A missing ``.venv-ref`` fails the test: CI installs it, so its absence is a broken install.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from detect.backends.factory import create_backend
from detect.detector import Detector
from tests.paths import REPO, clips_dir, models_dir

REF_PYTHON = REPO / ".venv-ref" / "bin" / "python"
REF_SCRIPT = REPO / "tests" / "ultralytics_reference.py"
CONFIDENCE, IOU, IMGSZ = 0.25, 0.45, 640
COMPARED_FROM = 0.35
"""Boxes near the 0.25 threshold may fall on one side of it in one runtime only."""
CLIPS = {
    "pets09_s2l1_vtest.mp4": (10, 40),
    "intel_indoor_one_by_one_person.mp4": (150, 400),
    "intel_parking_lot_cars.mp4": (80, 210),
    "la_cam68_1st_alameda_sidewalk.mp4": (30, 200),
}
"""Two frame indexes of each clip, where there is something to detect."""

Frame = npt.NDArray[np.uint8]
Rows = npt.NDArray[np.float64]


def decode(clip: Path, wanted: set[int]) -> list[Frame]:
    frames = []
    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames.append(frame.to_ndarray(format="bgr24"))
            if index >= max(wanted):
                break
    return frames


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    """Eight frames, two of each clip, in clip order (so the sizes differ along the list)."""
    return [frame for name, at in CLIPS.items() for frame in decode(clips_dir() / name, set(at))]


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    backend = create_backend("openvino", models_dir() / "yolov8n.onnx", threads=2)
    yield Detector(backend, imgsz=IMGSZ, confidence=CONFIDENCE, iou=IOU)
    backend.close()


@pytest.fixture(scope="module")
def ultralytics(
    frames: list[Frame], tmp_path_factory: pytest.TempPathFactory
) -> dict[int, list[Rows]]:
    """What ultralytics finds on exactly these frames, run in .venv-ref, by batch size."""
    assert REF_PYTHON.is_file(), f"{REF_PYTHON} is missing: run scripts/install --dev"
    folder = tmp_path_factory.mktemp("ultralytics")
    stack, out = folder / "frames.npz", folder / "found.json"
    np.savez(stack, **{f"f{i}": frame for i, frame in enumerate(frames)})
    command = [str(REF_PYTHON), str(REF_SCRIPT), "--model", str(models_dir() / "yolov8n.pt")]
    command += ["--frames", str(stack), "--out", str(out), "--batch", "1", "8"]
    command += ["--imgsz", str(IMGSZ), "--conf", str(CONFIDENCE), "--iou", str(IOU)]
    env = {**os.environ, "YOLO_CONFIG_DIR": str(folder), "YOLO_OFFLINE": "1"}
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(out.read_text(encoding="utf-8"))
    return {
        int(size): [np.asarray(rows, np.float64).reshape(-1, 6) for rows in per_frame]
        for size, per_frame in found.items()
    }


def our_rows(detector: Detector, frames: list[Frame], batch: int) -> list[Rows]:
    found = []
    for start in range(0, len(frames), batch):
        for dets in detector.detect(frames[start : start + batch]):
            columns = [dets.xyxy, dets.confidence[:, None], dets.class_id[:, None]]
            found.append(np.concatenate(columns, axis=1).astype(np.float64))
    return found


def iou(box: Rows, boxes: Rows) -> npt.NDArray[np.float64]:
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:4], boxes[:, 2:4])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(box[2:4] - box[:2])
    areas = np.prod(boxes[:, 2:4] - boxes[:, :2], axis=1)
    result: npt.NDArray[np.float64] = inter / (area + areas - inter)
    return result


def compare(ours: list[Rows], theirs: list[Rows]) -> int:
    """Assert that every confident box has its twin; returns how many boxes were compared."""
    assert len(ours) == len(theirs)
    compared = 0
    for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for one, other, side in ((a, b, "ours"), (b, a, "ultralytics")):
            for row in one[one[:, 4] >= COMPARED_FROM]:
                twins = other[other[:, 5] == row[5]]
                overlap = iou(row, twins) if len(twins) else np.zeros(1)
                best = int(overlap.argmax())
                where = f"frame {index}: {side} box {row.round(2).tolist()}"
                assert overlap[best] >= 0.9, f"{where}: best IoU {overlap[best]:.3f}"
                assert abs(twins[best, 4] - row[4]) <= 0.05, f"{where}: score {twins[best, 4]}"
                compared += 1
    return compared


@pytest.mark.timeout(300)
@pytest.mark.parametrize("batch", [1, 8])
def test_detections_match_ultralytics(
    batch: int, frames: list[Frame], detector: Detector, ultralytics: dict[int, list[Rows]]
) -> None:
    # Batch 1: each frame in its minimum rectangle. Batch 8: the frames' sizes differ, so both
    # sides letterbox them all into 640x640 squares.
    assert len(frames) == 8
    compared = compare(our_rows(detector, frames, batch), ultralytics[batch])
    assert compared >= 20
