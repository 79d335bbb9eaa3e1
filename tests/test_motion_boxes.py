"""Where the motion gate says things moved: boxes around walking people (checked against the
PETS 2009 ground truth), none for light changes or masked regions, never more than a frame
handle carries; ``new_motion`` when motion starts or appears elsewhere, and the bursts of
faster sampling it starts."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

import av
import numpy as np
import pytest

from common.config import MotionConfig
from common.messages import MAX_MOVED_BOXES
from ingest.decode import luma
from ingest.motion import (
    WHOLE_PICTURE,
    Box,
    Grey,
    MotionGate,
    Reason,
    Verdict,
    moving_boxes,
    small_grey,
)
from ingest.picker import AnalysisPicker
from tests.paths import clips_dir
from tests.test_motion import verdicts

PETS = "pets09_s2l1_vtest.mp4"
PETS_GT = "pets09_s2l1_vtest.gt_frames0001-0080.txt"
PETS_SIZE = (768, 576)
HEIGHT, WIDTH = 90, 160
BACKGROUND = 100


def pets_truth() -> dict[int, list[Box]]:
    """Ground-truth person boxes by 0-based frame index, as fractions of the picture.

    The MOTChallenge format is ``frame, id, left, top, width, height, ...`` in pixels, with
    frames and pixels counted from 1.
    """
    width, height = PETS_SIZE
    boxes: dict[int, list[Box]] = defaultdict(list)
    for line in (clips_dir() / PETS_GT).read_text().splitlines():
        frame, _, left, top, box_width, box_height = (float(v) for v in line.split(",")[:6])
        x1, y1 = (left - 1) / width, (top - 1) / height
        boxes[int(frame) - 1].append((x1, y1, x1 + box_width / width, y1 + box_height / height))
    return boxes


def contains(outer: Box, inner: Box, slack: tuple[float, float]) -> bool:
    """Whether ``outer`` contains ``inner``, give or take ``slack`` (x, y) on each side."""
    dx, dy = slack
    return (
        outer[0] - dx <= inner[0]
        and outer[1] - dy <= inner[1]
        and inner[2] <= outer[2] + dx
        and inner[3] <= outer[3] + dy
    )


def area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def test_walking_people_are_inside_small_boxes() -> None:
    """Every person of the PETS ground truth (frames 1 to 80, 6 people, walking) lies in a box
    of the gate, give or take one pixel of its 160 px picture, in nearly every sampled frame
    once the gate has seen them move for a second; and that box is not the whole picture."""
    truth = pets_truth()
    slack = (1 / 160, 1 / 120)
    found, missed = 0, 0
    for t, verdict in verdicts(PETS):
        frame = round(t * 10)
        if not 10 <= frame < 80:
            continue
        assert verdict.reason == Reason.MOTION
        for person in truth[frame]:
            holders = [box for box in verdict.boxes if contains(box, person, slack)]
            found += bool(holders)
            missed += not holders
            assert all(area(box) < 0.25 for box in holders)
    assert found + missed > 150
    assert missed <= 0.08 * (found + missed)


def test_light_changes_give_no_boxes() -> None:
    results = verdicts("indoor_light_switching_no_motion.mp4")
    assert sum(verdict.reason == Reason.LIGHT for _, verdict in results) > 2
    assert not any(verdict.boxes or verdict.new_motion for _, verdict in results)


@pytest.mark.parametrize(
    "clip", [PETS, "la_cam68_1st_alameda_sidewalk.mp4", "intel_parking_lot_cars.mp4"]
)
def test_boxes_come_only_with_motion_and_never_too_many(clip: str) -> None:
    results = verdicts(clip)
    assert any(verdict.boxes for _, verdict in results)
    for _, verdict in results:
        assert len(verdict.boxes) <= MAX_MOVED_BOXES
        assert verdict.reason in {Reason.MOTION, Reason.HOLD} or not verdict.boxes
        assert all(
            0.0 <= x1 < x2 <= 1.0 and 0.0 <= y1 < y2 <= 1.0 for x1, y1, x2, y2 in verdict.boxes
        )


def test_masks_remove_boxes() -> None:
    """With the left half of the crossroads masked, the people there make no box: every box
    starts right of the mask, give or take the pixel of margin around a blob."""
    left_half = MotionConfig(masks=[[(0, 0), (0.5, 0), (0.5, 1), (0, 1)]])
    boxes = [box for _, verdict in verdicts(PETS, left_half) for box in verdict.boxes]
    assert len(boxes) > 100
    assert min(x1 for x1, _, _, _ in boxes) >= 0.5 - 1.5 / 160
    everything = MotionConfig(masks=[[(0, 0), (1, 0), (1, 1), (0, 1)]])
    assert not any(verdict.boxes for _, verdict in verdicts(PETS, everything))


def picture(*squares: tuple[int, int, int]) -> Grey:
    """A flat grey 160x90 picture with bright squares (left, top, side in pixels)."""
    grey = np.full((HEIGHT, WIDTH), BACKGROUND, np.uint8)
    for left, top, side in squares:
        grey[top : top + side, left : left + side] = 230
    return grey


def moved(squares: list[tuple[int, int, int]]) -> Verdict:
    """The verdict on a picture with ``squares`` after a still, flat one."""
    gate = MotionGate(MotionConfig())
    gate.check(picture(), 0.0)
    return gate.check(picture(*squares), 0.2)


def square_box(left: int, top: int, side: int) -> Box:
    return (left / WIDTH, top / HEIGHT, (left + side) / WIDTH, (top + side) / HEIGHT)


def test_apart_moves_get_apart_boxes_and_near_ones_are_merged() -> None:
    squares = [(10, 10, 8), (70, 40, 10), (130, 60, 6)]
    verdict = moved(squares)
    assert verdict.reason == Reason.MOTION
    assert len(verdict.boxes) == 3
    for square in squares:
        box = next(box for box in verdict.boxes if contains(box, square_box(*square), (0, 0)))
        assert area(box) < 3 * area(square_box(*square))
    near = moved([(10, 10, 8), (22, 12, 8)])  # 4 px apart: blurred, they nearly touch
    assert len(near.boxes) == 1
    assert contains(near.boxes[0], square_box(10, 10, 8), (0, 0))
    assert contains(near.boxes[0], square_box(22, 12, 8), (0, 0))


def mask(*rectangles: tuple[int, int, int, int]) -> Grey:
    """A moving-pixels mask of 160x90 with the rectangles (x1, y1, x2, y2, exclusive) set."""
    moving = np.zeros((HEIGHT, WIDTH), np.uint8)
    for x1, y1, x2, y2 in rectangles:
        moving[y1:y2, x1:x2] = 1
    return moving


@pytest.mark.parametrize(
    ("rectangles", "expected"),
    [
        # 3 px apart: the dilated blobs stay 1 px apart, their boxes are near: merged
        ([(10, 10, 20, 20), (23, 10, 33, 20)], [(9, 9, 34, 21)]),
        # 6 px apart: two boxes
        ([(10, 10, 20, 20), (26, 10, 36, 20)], [(9, 9, 21, 21), (25, 9, 37, 21)]),
        # an L and a blob in its corner that it does not touch: boxes overlap, merged
        ([(40, 40, 70, 44), (66, 44, 70, 70), (50, 52, 58, 60)], [(39, 39, 71, 71)]),
        # a speck (one pixel, 3x3 once dilated) is no box
        ([(100, 10, 101, 11)], []),
    ],
)
def test_moving_boxes_merge_near_and_overlapping_blobs(
    rectangles: list[tuple[int, int, int, int]], expected: list[tuple[int, int, int, int]]
) -> None:
    boxes = moving_boxes(mask(*rectangles), min_pixels=16)
    in_pixels = sorted(
        (round(x1 * WIDTH), round(y1 * HEIGHT), round(x2 * WIDTH), round(y2 * HEIGHT))
        for x1, y1, x2, y2 in boxes
    )
    assert in_pixels == expected


def test_a_busy_picture_is_merged_down_to_the_limit_without_losing_motion() -> None:
    squares = [
        (4 + 15 * col, 4 + 17 * row, 5) for col, row in itertools.product(range(10), range(5))
    ]
    verdict = moved(squares)
    assert 1 <= len(verdict.boxes) <= MAX_MOVED_BOXES
    for square in squares:
        assert any(contains(box, square_box(*square), (0, 0)) for box in verdict.boxes)


def test_disabled_gate_reports_the_whole_picture_and_never_goes_idle() -> None:
    gate = MotionGate(MotionConfig(enabled=False))
    verdict = gate.check(picture(), 0.0)
    assert verdict.boxes == WHOLE_PICTURE
    assert not verdict.new_motion
    gate.check(picture(), 60.0)
    assert gate.idle_for(60.0) == 0.0  # so it is never decoded keyframes only


def test_a_camera_is_idle_only_after_being_watched_that_long() -> None:
    gate = MotionGate(MotionConfig())
    for step in range(50):  # a still picture for 10 s at 5 fps
        gate.check(picture(), 100.0 + 0.2 * step)
        assert gate.idle_for(100.0 + 0.2 * step) <= 0.2 * step + 1e-9


def test_new_motion_is_motion_starting_after_stillness() -> None:
    """A newcomer starts motion; moving on is not new; a flicker or a second newcomer
    elsewhere while motion goes on is not new either; after stillness, motion is new again."""
    gate = MotionGate(MotionConfig(min_area=0.01, hold_s=0.5))
    steps = [
        ([], Reason.FIRST, 0, False),
        ([], Reason.STILL, 0, False),
        ([(20, 20, 16)], Reason.MOTION, 1, True),
        ([(23, 20, 16)], Reason.MOTION, 1, False),
        ([(26, 20, 16), (120, 60, 5)], Reason.MOTION, 2, False),
        ([(29, 20, 16), (100, 10, 16)], Reason.MOTION, 2, False),
        ([(32, 20, 16), (102, 10, 16)], Reason.MOTION, 2, False),
    ]
    for step, (squares, reason, boxes, new) in enumerate(steps):
        verdict = gate.check(picture(*squares), 0.2 * step)
        assert (verdict.reason, len(verdict.boxes), verdict.new_motion) == (reason, boxes, new)
    still = picture((32, 20, 16), (102, 10, 16))
    for step in range(len(steps), 60):  # the squares melt into the background
        verdict = gate.check(still, 0.2 * step)
    assert verdict.reason in {Reason.STILL, Reason.REFRESH}
    verdict = gate.check(picture((32, 20, 16), (102, 10, 16), (60, 60, 16)), 12.0)
    assert (verdict.reason, verdict.new_motion) == (Reason.MOTION, True)


def decoded(clip: str, seconds: float) -> list[tuple[float, Grey]]:
    """Stream time and small grey picture of every frame of the clip's first ``seconds``."""
    out = []
    with av.open(str(clips_dir() / clip)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        for frame in container.decode(stream):
            assert frame.pts is not None
            t = float(frame.pts * stream.time_base)
            if t >= seconds:
                break
            out.append((t, small_grey(luma(frame))))
    return out


def test_motion_after_stillness_bursts_sampling_on_a_real_clip() -> None:
    """The parking-lot clip (12.5 fps): the lane is empty between three passes of cars. Each
    pass starts a burst (frames sampled at up to 10 fps for ``burst_s``); the cars moving on
    start no new one; outside bursts frames are sampled at 5 fps."""
    burst_s = 1.0
    picker = AnalysisPicker(5.0, MotionConfig(burst_fps=10.0, burst_s=burst_s))
    sampled, bursts = [], []
    for t, grey in decoded("intel_parking_lot_cars.mp4", 30.0):
        if picker.due(t):
            sampled.append(t)
            if picker.judge(grey, t)[1]:
                bursts.append(t)
    assert 2 <= len(bursts) <= 5, bursts
    inside: list[float] = []
    outside: list[float] = []
    for before, after in itertools.pairwise(sampled):
        in_burst = any(start <= before < start + burst_s for start in bursts)
        (inside if in_burst else outside).append(after - before)
    assert statistics.median(inside) <= 0.1  # 10 fps on a 12.5 fps grid: 0.08 and some 0.16
    assert min(outside) >= 0.15
