"""Tests of the detector's model path: yolov8n.onnx on real PETS 2009 frames, on the CPU.

The clip ``pets09_s2l1_vtest.mp4`` comes with MOTChallenge ground truth for its first 80
frames (``frame,id,x,y,w,h,...``; frame numbers are 1-based, x and y the top-left corner).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest

from detect.backends.base import Backend, parse_class_names
from detect.backends.factory import create_backend
from detect.detections import Detections
from detect.detector import Detector, class_ids_for
from detect.errors import DetectorError, ModelFormatError, ModelNotFoundError, UnknownBackendError
from detect.letterbox import letterbox
from tests.paths import clips_dir, models_dir, require_clip, require_model

CLIP = clips_dir() / "pets09_s2l1_vtest.mp4"
GROUND_TRUTH = clips_dir() / "pets09_s2l1_vtest.gt_frames0001-0080.txt"
MODEL = models_dir() / "yolov8n.onnx"
GT_FRAMES = (1, 20, 40, 60, 80)
PERSON = 0

Frame = npt.NDArray[np.uint8]
Boxes = npt.NDArray[np.float32]


def iou_matrix(a: Boxes, b: Boxes) -> npt.NDArray[np.float32]:
    """(len(a), len(b)) intersection over union of two sets of xyxy boxes."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    iou: npt.NDArray[np.float32] = inter / (area_a[:, None] + area_b[None, :] - inter)
    return iou


def count_matched(truth: Boxes, found: Boxes, min_iou: float) -> int:
    """How many ``truth`` boxes get their own ``found`` box with IoU >= ``min_iou`` (greedy)."""
    iou = iou_matrix(truth, found)
    matched = 0
    while iou.size and iou.max() >= min_iou:
        t, f = np.unravel_index(iou.argmax(), iou.shape)
        iou[t, :] = iou[:, f] = 0
        matched += 1
    return matched


def assert_same_detections(
    a: Detections, b: Detections, min_iou: float, confidence_tolerance: float
) -> None:
    """Each confident box of ``a`` has a same-class twin in ``b``, and vice versa.

    Boxes within 0.1 of the 0.25 threshold may legitimately appear on one side only.
    """
    for one, other in ((a, b), (b, a)):
        for box, score, cls in zip(one.xyxy, one.confidence, one.class_id, strict=True):
            if score < 0.35:
                continue
            same_class = other.filter(other.class_id == cls)
            iou = iou_matrix(box[None], same_class.xyxy)[0]
            assert iou.size, f"class {cls} box {box} ({score:.2f}) has no twin"
            best = int(iou.argmax())
            assert iou[best] >= min_iou, f"box {box} best IoU {iou[best]:.3f}"
            assert abs(same_class.confidence[best] - score) <= confidence_tolerance


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    """The first 80 decoded frames (index i is ground-truth frame i + 1), BGR."""
    require_clip(CLIP)
    decoded: list[Frame] = []
    with av.open(str(CLIP)) as container:
        for frame in container.decode(video=0):
            decoded.append(frame.to_ndarray(format="bgr24"))
            if len(decoded) == 80:
                break
    return decoded


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, Backend]]:
    require_model(MODEL)
    made = {
        "openvino": create_backend("openvino", MODEL, threads=2),
        "onnxruntime": create_backend("onnxruntime", MODEL, threads=2),
    }
    yield made
    for backend in made.values():
        backend.close()


def test_most_ground_truth_people_are_detected(
    backends: dict[str, Backend], frames: list[Frame]
) -> None:
    truth = np.loadtxt(GROUND_TRUTH, delimiter=",", dtype=np.float32)
    detector = Detector(backends["openvino"], classes={PERSON})
    total = matched = 0
    for number in GT_FRAMES:
        boxes = truth[truth[:, 0] == number, 2:6]
        boxes[:, 2:] += boxes[:, :2]  # x, y, w, h -> x1, y1, x2, y2
        (people,) = detector.detect([frames[number - 1]])
        assert set(people.class_id.tolist()) <= {PERSON}
        total += len(boxes)
        matched += count_matched(boxes, people.xyxy, min_iou=0.5)
    assert total == 24
    assert matched / total >= 0.8, f"only {matched} of {total} people found"


def test_a_batch_gives_the_same_boxes_as_single_frames(
    backends: dict[str, Backend], frames: list[Frame]
) -> None:
    detector = Detector(backends["openvino"])
    batch = frames[30:38]
    batched = detector.detect(batch)
    assert len(batched) == 8
    for frame, together in zip(batch, batched, strict=True):
        (alone,) = detector.detect([frame])
        assert len(alone) > 0
        assert_same_detections(alone, together, min_iou=0.99, confidence_tolerance=0.01)


def test_openvino_and_onnxruntime_agree(backends: dict[str, Backend], frames: list[Frame]) -> None:
    batch = [frames[n - 1] for n in GT_FRAMES]
    openvino = Detector(backends["openvino"]).detect(batch)
    onnxruntime = Detector(backends["onnxruntime"]).detect(batch)
    assert backends["openvino"].class_names == backends["onnxruntime"].class_names
    # Not bit-identical: OpenVINO computes in bf16 on CPUs with AMX.
    for a, b in zip(openvino, onnxruntime, strict=True):
        assert_same_detections(a, b, min_iou=0.95, confidence_tolerance=0.05)


def test_letterbox_uses_the_minimum_rectangle_and_maps_boxes_back() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[200:400, 100:300] = (255, 0, 0)  # a blue box, BGR
    batch = letterbox([frame, frame], imgsz=640)
    assert batch.tensor.shape == (2, 3, 384, 640)  # 360 rows + 24 of padding, 12 each side
    np.testing.assert_allclose(batch.pad, [[0, 12], [0, 12]])
    image = batch.tensor[1]
    assert image[:, 0, 0] == pytest.approx([114 / 255] * 3)  # grey padding
    rows, cols = np.nonzero(image[2] > 0.5)  # blue is the last RGB channel
    found = np.array([[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]], np.float32)
    np.testing.assert_allclose(found, [[50, 112, 150, 212]])
    np.testing.assert_allclose(batch.to_source(1, found), [[100, 200, 300, 400]])
    outside = np.array([[-10, 0, 700, 500]], np.float32)  # clipped to the source frame
    np.testing.assert_allclose(batch.to_source(0, outside), [[0, 0, 1280, 720]])


def test_letterbox_of_mixed_shapes_is_square_and_matches_ultralytics_rule() -> None:
    rng = np.random.default_rng(0)
    portrait = rng.integers(0, 256, (500, 301, 3), np.uint8)
    batch = letterbox([portrait, np.zeros((64, 64, 3), np.uint8)], imgsz=320)
    assert batch.tensor.shape == (2, 3, 320, 320)
    # ultralytics: resize to round(301 * 0.64) = 193 wide, pad 127 = 63 left + 64 right.
    resized = cv2.resize(portrait, (193, 320), interpolation=cv2.INTER_LINEAR)
    expected = cv2.copyMakeBorder(resized, 0, 0, 63, 64, cv2.BORDER_CONSTANT, value=(114,) * 3)
    rgb_chw = expected[..., ::-1].transpose(2, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(batch.tensor[0], rgb_chw / np.float32(255))
    np.testing.assert_allclose(batch.pad[0], [63, 0])


def test_letterbox_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        letterbox([np.zeros((10, 10, 3), np.uint8)], imgsz=100)
    with pytest.raises(ValueError, match="frame 1"):
        letterbox([np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.uint8)])


def make_detections(n: int) -> Detections:
    xyxy = np.array([[0, 0, 10, 20], [5, 5, 15, 45], [1, 2, 3, 4]][:n], np.float32)
    return Detections(xyxy, np.full(n, 0.5, np.float32), np.arange(n, dtype=np.int32))


def test_detections_filter_anchors_and_tracker_ids() -> None:
    dets = make_detections(3).with_tracker_ids(np.array([7, 8, 9], np.int64))
    people = dets.filter(dets.class_id != 1)
    assert len(people) == 2
    assert people.tracker_id is not None
    assert people.tracker_id.tolist() == [7, 9]
    np.testing.assert_allclose(people.anchors_bottom_center(), [[5, 20], [2, 4]])
    assert len(Detections.empty()) == 0
    assert Detections.empty().anchors_bottom_center().shape == (0, 2)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("xyxy", {"xyxy": np.zeros((2, 3), np.float32)}),
        ("xyxy", {"xyxy": np.zeros((2, 4), np.float64)}),
        ("confidence", {"confidence": np.zeros(3, np.float32)}),
        ("class_id", {"class_id": np.zeros(2, np.int64)}),
        ("class_id", {"class_id": [0, 1]}),
        ("tracker_id", {"tracker_id": np.zeros((2, 1), np.int64)}),
    ],
)
def test_detections_validation_names_the_bad_field(field: str, change: dict[str, object]) -> None:
    good = make_detections(2)
    fields: dict[str, object] = {
        "xyxy": good.xyxy,
        "confidence": good.confidence,
        "class_id": good.class_id,
    }
    with pytest.raises(ValueError, match=rf"Detections\.{field} "):
        Detections(**{**fields, **change})  # type: ignore[arg-type]


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(UnknownBackendError, match=r"'tensorflow'.*openvino") as caught:
        create_backend("tensorflow", MODEL, threads=1)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, DetectorError)


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelNotFoundError, match=r"nope\.onnx") as caught:
        create_backend("openvino", missing, threads=1)
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, DetectorError)


def test_class_names_and_ids(backends: dict[str, Backend]) -> None:
    names = backends["openvino"].class_names
    assert len(names) == 80
    assert names[:3] == ("person", "bicycle", "car")
    assert class_ids_for(iter(["car", "person"]), names) == {0, 2}
    with pytest.raises(ValueError, match="'unicorn'"):
        class_ids_for(["person", "unicorn"], names)
    with pytest.raises(ModelFormatError):
        parse_class_names("{1: 'no zero'}")
