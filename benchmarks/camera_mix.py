"""The clips that play the cameras of a benchmark, and how N cameras are laid out on them."""

from __future__ import annotations

from benchmarks.farm import Mount, default_clips_dir

CAMERA_CLIPS = (
    "pets09_s2l1_vtest.mp4",
    "intel_parking_lot_cars.mp4",
    "intel_indoor_one_by_one_person.mp4",
    "la_cam68_1st_alameda_sidewalk.mp4",
    "residential_street_cars_unverified.mp4",
    "walkway_pedestrians_unverified.mp4",
    "empty_parking_lot_pingpong.mp4",
    "indoor_walking_by.mp4",
)
"""Outdoor and indoor, people and vehicles, busy and empty: a station's mix."""

RECALL_CLIPS = (*CAMERA_CLIPS, "indoor_lowlight_people.mp4", "indoor_light_switching_no_motion.mp4")
"""The camera mix plus the hard cases for the motion gate (near darkness, lights switching)."""


def camera_id(index: int) -> str:
    return f"cam{index:03d}"


def camera_mounts(count: int) -> list[Mount]:
    """``count`` farm cameras cycling through the mix, each starting at its own offset."""
    clips = default_clips_dir()
    return [
        Mount(
            camera_id(i),
            clips / CAMERA_CLIPS[i % len(CAMERA_CLIPS)],
            offset_frames=(i * 37) % 200,
        )
        for i in range(count)
    ]
