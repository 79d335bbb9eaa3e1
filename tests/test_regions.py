"""Regions geometry, the merge of overlapping regions and the track book (no model)."""

from __future__ import annotations

import numpy as np

from common.config import DetectorConfig
from common.messages import FrameRef
from detect.detections import Detections
from detect.looks import LookKind, LookPlanner
from detect.region_merge import merge
from detect.regions import (
    Region,
    cluster,
    cover,
    crop_regions,
    cut_by_edge,
    enlarged,
    to_frame,
)
from detect.track_book import TrackBook


def boxes(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(rows, np.float32).reshape(-1, 4)


def test_a_wide_frame_is_covered_by_two_squares_of_its_height() -> None:
    assert cover(640, 360, 320) == [Region(0, 0, 360), Region(280, 0, 360)]
    assert cover(320, 180, 320) == [Region(0, -70, 320)]


def test_nearby_boxes_share_a_region_and_far_ones_do_not() -> None:
    near = cluster(boxes((10, 10, 40, 80), (60, 20, 90, 90)), 320, 640, 360)
    assert len(near) == 1
    assert near[0].side == 320
    far = cluster(boxes((10, 10, 40, 80), (560, 250, 600, 340)), 320, 640, 360)
    assert len(far) == 2
    for region, box in zip(
        sorted(far, key=lambda r: r.x), [(10, 10, 40, 80), (560, 250, 600, 340)], strict=True
    ):
        assert region.contains(boxes(box))[0]
        assert region.x >= 0
        assert region.x + region.side <= 640


def test_a_box_larger_than_the_model_gets_a_region_of_its_own_size() -> None:
    (region,) = cluster(boxes((100, 0, 500, 300)), 320, 640, 360)
    assert region.side > 400
    assert region.contains(boxes((100, 0, 500, 300)))[0]


def test_crops_map_back_to_the_frame() -> None:
    image = np.zeros((360, 640, 3), np.uint8)
    image[100:150, 400:420] = 255
    region = Region(300, 40, 320)
    (crop,) = crop_regions(image, [region], 320)
    ys, xs = np.nonzero(crop[..., 0])
    found = boxes((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    assert np.allclose(to_frame(found, region, 320, 640, 360), [[400, 100, 420, 150]])
    big = Region(0, 0, 640)
    (small,) = crop_regions(image, [big], 320)
    ys, xs = np.nonzero(small[..., 0] > 127)
    back = to_frame(boxes((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)), big, 320, 640, 360)
    assert np.allclose(back, [[400, 100, 420, 150]], atol=2)


def test_a_box_on_an_inner_edge_is_cut_and_one_on_the_frame_edge_is_not() -> None:
    region = Region(0, 0, 320)  # left and top edges are the frame's
    found = boxes((0, 0, 50, 50), (280, 100, 320, 200), (100, 100, 150, 150))
    assert cut_by_edge(found, region, 320, 640, 360).tolist() == [False, True, False]
    bigger = enlarged(to_frame(found, region, 320, 640, 360)[1], region, 640, 360)
    assert bigger.side > region.side
    assert bigger.contains(boxes((280, 100, 320, 200)))[0]


def test_one_object_seen_in_two_regions_is_one_detection() -> None:
    seen_twice = Detections(
        xyxy=boxes((300, 100, 340, 200), (301, 101, 341, 199), (320, 100, 340, 200)),
        confidence=np.array([0.8, 0.7, 0.6], np.float32),
        class_id=np.zeros(3, np.int32),
    )
    cut = np.array([False, False, True])  # the third is the part a region's edge cut off
    merged, still_cut = merge(seen_twice, cut, 0.45)
    assert len(merged) == 1
    assert merged.confidence[0] == np.float32(0.8)
    assert not still_cut.any()


def ref(
    t: float, look: str = "motion", moved: tuple[tuple[float, float, float, float], ...] = ()
) -> FrameRef:
    return FrameRef("cam", "", 0, 0, 360, 640, t, t, look=look, moved=moved)


def tracked(box: tuple[float, float, float, float], track: int = 1) -> Detections:
    return Detections(
        xyxy=boxes(box),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([2], np.int32),
        tracker_id=np.array([track], np.int64),
    )


def test_a_still_scene_costs_no_look_and_a_parked_car_is_rechecked_only_when_due() -> None:
    planner = LookPlanner(DetectorConfig(mode="regions", stationary_recheck_s=5.0))
    book = TrackBook()
    assert planner.plan(ref(0.0, "first"), book).kind == LookKind.WHOLE
    car = (500.0, 40.0, 600.0, 100.0)
    for step in range(8):  # seen in place for 1.4 s: its speed is known, and it is zero
        book.observe(tracked(car), np.array([True]), None, step * 0.2)
    assert not book.tracks[1].moving()
    kinds = [planner.plan(ref(1.6 + 0.2 * i), book).kind for i in range(10)]
    assert kinds == [LookKind.NONE] * 10
    due = planner.plan(ref(6.5), book)
    assert due.kind == LookKind.REGIONS
    assert due.regions[0].contains(boxes(car))[0]
    walker = planner.plan(ref(2.0, moved=((0.05, 0.2, 0.1, 0.6),)), book)
    assert walker.kind == LookKind.REGIONS
    assert not walker.regions[0].contains(boxes(car))[0]


def test_tracks_outside_the_regions_are_held_and_forgotten_once_looked_at_in_vain() -> None:
    book = TrackBook()
    book.observe(tracked((500, 40, 600, 100)), np.array([True]), None, 0.0)
    elsewhere = [Region(0, 0, 320)]
    assert len(book.held(elsewhere, Detections.empty())) == 1
    assert len(book.held([Region(320, 0, 320)], Detections.empty())) == 0
    empty = Detections.empty().with_tracker_ids(np.empty(0, np.int64))
    book.observe(empty, np.zeros(0, np.bool_), [Region(320, 0, 320)], 2.0)
    assert 1 in book.tracks  # looked at in vain for 2 s: not yet gone
    book.observe(empty, np.zeros(0, np.bool_), [Region(320, 0, 320)], 3.5)
    assert 1 not in book.tracks


def test_motion_spread_over_one_side_is_one_coarse_crop_not_the_whole_frame() -> None:
    """Walkers spread over 420 pixels of a 640x480 frame: three full-size regions, or the whole
    frame (two squares of 480), or one square of 480 around them: the planner takes the one."""
    planner = LookPlanner(DetectorConfig(mode="regions"))
    book = TrackBook()
    planner.plan(FrameRef("cam", "", 0, 0, 480, 640, 0.0, 0.0, look="first"), book)
    walkers = ((0.30, 0.30, 0.34, 0.45), (0.55, 0.35, 0.59, 0.50), (0.90, 0.40, 0.94, 0.55))
    look = planner.plan(FrameRef("cam", "", 0, 0, 480, 640, 0.2, 0.2, moved=walkers), book)
    assert look.kind == LookKind.REGIONS
    assert len(look.regions) == 1
    assert look.regions[0].side == 480
