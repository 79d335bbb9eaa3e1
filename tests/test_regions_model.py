"""Regions mode with the real model on the PETS 2009 clip and its box ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
import pytest

from detect.backends.factory import create_backend
from detect.detections import Detections
from detect.detector import Detector
from detect.looker import FrameLook, Looker, look_now
from detect.looks import Look, LookKind
from detect.regions import Region, cluster
from tests.paths import clips_dir, models_dir

PERSON = 0
FOUND_IOU = 0.5
CONFIDENCE = 0.35
SCALE = 640 / 768  # analysis frames are 640x480, as ingest scales the 768x576 clip


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    backend = create_backend("openvino", models_dir() / "yolov8n.onnx", 2)
    yield Detector(backend, imgsz=320, confidence=0.1, classes=[PERSON])
    backend.close()


def pets_frames(wanted: set[int]) -> dict[int, npt.NDArray[np.uint8]]:
    """Frames (1-based, as the ground truth counts) of the PETS clip, at 640x480."""
    frames = {}
    with av.open(str(clips_dir() / "pets09_s2l1_vtest.mp4")) as container:
        for number, frame in enumerate(container.decode(video=0), 1):
            if number in wanted:
                frames[number] = cast(
                    npt.NDArray[np.uint8], frame.reformat(640, 480, "bgr24").to_ndarray()
                )
            if number >= max(wanted):
                break
    return frames


def ground_truth(path: Path, number: int, person: int) -> npt.NDArray[np.float32]:
    rows = np.loadtxt(path, delimiter=",")
    row = rows[(rows[:, 0] == number) & (rows[:, 1] == person)][0]
    x, y, w, h = row[2:6] * SCALE
    return np.array([x, y, x + w, y + h], np.float32)


def iou(box: npt.NDArray[np.float32], found: Detections) -> float:
    confident = found.xyxy[found.confidence >= CONFIDENCE]
    if not len(confident):
        return 0.0
    x1 = np.maximum(confident[:, 0], box[0])
    y1 = np.maximum(confident[:, 1], box[1])
    x2 = np.minimum(confident[:, 2], box[2])
    y2 = np.minimum(confident[:, 3], box[3])
    inner = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    areas = (confident[:, 2] - confident[:, 0]) * (confident[:, 3] - confident[:, 1])
    own = (box[2] - box[0]) * (box[3] - box[1])
    return float((inner / (areas + own - inner)).max())


def test_a_far_person_is_found_in_regions_at_320_where_the_whole_frame_at_320_misses_him(
    detector: Detector,
) -> None:
    """Person 15 of the ground truth, ~66 px tall at 640 wide, frames 38-45: a whole-frame look
    at 320 halves him and misses him; a 320 region around him keeps his pixels."""
    numbers = set(range(38, 46))
    truth = clips_dir() / "pets09_s2l1_vtest.gt_frames0001-0080.txt"
    looker = Looker(detector, 320)
    found_in_frame = found_in_regions = 0
    for number, image in sorted(pets_frames(numbers).items()):
        person = ground_truth(truth, number, 15)
        whole = detector.detect([image])[0]
        regions = tuple(cluster(person[None, :], 320, 640, 480))
        looked = look_now(looker, [FrameLook(image, Look(LookKind.REGIONS, regions))])[0]
        found_in_frame += iou(person, whole) >= FOUND_IOU
        found_in_regions += iou(person, looked) >= FOUND_IOU
    assert found_in_regions >= 6, found_in_regions
    assert found_in_frame <= 2, found_in_frame


def test_one_person_seen_by_two_overlapping_regions_is_one_detection(detector: Detector) -> None:
    truth = clips_dir() / "pets09_s2l1_vtest.gt_frames0001-0080.txt"
    image = pets_frames({11})[11]
    person = ground_truth(truth, 11, 9)  # about x 391-417, y 139-202
    both = (Region(200, 0, 320), Region(300, 40, 320))
    assert all(region.contains(person[None, :])[0] for region in both)
    looked = look_now(Looker(detector, 320), [FrameLook(image, Look(LookKind.REGIONS, both))])[0]
    near = looked.filter(
        (looked.confidence >= CONFIDENCE)
        & (np.abs(looked.xyxy[:, 0] - person[0]) < 15)
        & (np.abs(looked.xyxy[:, 1] - person[1]) < 15)
    )
    assert len(near) == 1
    assert iou(person, near) >= FOUND_IOU
