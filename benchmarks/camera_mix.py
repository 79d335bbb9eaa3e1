"""The clips that play the cameras of a benchmark, and how N cameras are laid out on them.

Two mixes:

- **busy**: every camera on the :data:`CAMERA_CLIPS` rotation (mostly crowded or moving
  scenes), camera ``i`` on clip ``i mod 8`` at offset ``37 i mod 200`` frames. The pipeline
  benchmark's historical mix.
- **commune**: what a commune's cameras mostly look like: 30% of the cameras on busy clips
  (:data:`BUSY_CLIPS`), 70% on quiet ones (:data:`QUIET_CLIPS`: an empty lot, a room whose
  light switches with nobody in it, a dim room where one or two people move now and then, a
  parking lane that cars cross three times in 30 s). Camera ``i`` is busy when
  ``floor(3 (i + 1) / 10) > floor(3 i / 10)`` (cameras 3, 6, 9, 13, ...), so that every prefix
  of the cameras holds the 30/70 split as closely as whole cameras allow; busy and quiet
  cameras each rotate through their own clips. The ``k``-th camera on a clip starts at
  ``frames * frac(k * 0.618...)`` (a golden-ratio spread: far apart for any number of
  cameras, and a camera keeps its clip and offset whatever the count).

Both are deterministic. The farm starts a camera at the keyframe at or before its offset
(every 25 frames in these clips), so cameras on one clip show different moments as long as
there are fewer of them than the clip has keyframes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal, get_args

from common.paths import default_clips_dir
from matthan.farm import Mount

Mix = Literal["busy", "commune"]
MIXES: tuple[Mix, ...] = get_args(Mix)

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
"""Outdoor and indoor, people and vehicles, busy and empty: the busy mix's rotation."""

QUIET_CLIPS = (
    "empty_parking_lot_pingpong.mp4",
    "indoor_light_switching_no_motion.mp4",
    "indoor_lowlight_people.mp4",
    "intel_parking_lot_cars.mp4",
)
"""Scenes that are still most of the time: what most of a commune's cameras watch."""

BUSY_CLIPS = tuple(clip for clip in CAMERA_CLIPS if clip not in QUIET_CLIPS)
"""The busy rotation less its quiet scenes: crossroads, sidewalk, street, walkway, rooms."""

COMMUNE_BUSY_TENTHS = 3
"""Tenths of the commune mix's cameras on busy clips."""

GOLDEN = 0.6180339887498949

RECALL_CLIPS = (*CAMERA_CLIPS, "indoor_lowlight_people.mp4", "indoor_light_switching_no_motion.mp4")
"""The camera mix plus the hard cases for the motion gate (near darkness, lights switching)."""


def camera_id(index: int) -> str:
    return f"cam{index:03d}"


def camera_mounts(count: int, mix: Mix = "busy") -> list[Mount]:
    """``count`` farm cameras laid out on ``mix``'s clips, each at its own offset."""
    if mix == "busy":
        clips = default_clips_dir()
        return [
            Mount(
                camera_id(i),
                clips / CAMERA_CLIPS[i % len(CAMERA_CLIPS)],
                offset_frames=(i * 37) % 200,
            )
            for i in range(count)
        ]
    if mix == "commune":
        return [commune_mount(i) for i in range(count)]
    raise ValueError(f"unknown mix {mix!r}; one of {MIXES}")


def is_busy_in_commune(index: int) -> bool:
    """Whether camera ``index`` of the commune mix plays a busy clip."""
    return (index + 1) * COMMUNE_BUSY_TENTHS // 10 > index * COMMUNE_BUSY_TENTHS // 10


def commune_mount(index: int) -> Mount:
    busy_before = index * COMMUNE_BUSY_TENTHS // 10  # busy cameras among 0 .. index-1
    if is_busy_in_commune(index):
        rotation, rank = BUSY_CLIPS, busy_before
    else:
        rotation, rank = QUIET_CLIPS, index - busy_before
    path = default_clips_dir() / rotation[rank % len(rotation)]
    on_clip = rank // len(rotation)  # cameras before this one on the same clip
    offset = int(clip_frames(path) * ((on_clip * GOLDEN) % 1.0))
    return Mount(camera_id(index), path, offset_frames=offset)


@cache
def clip_frames(path: Path) -> int:
    """Frames in a clip (from its container; 250 if it does not say)."""
    import av

    with av.open(str(path)) as container:
        return int(container.streams.video[0].frames) or 250


def describe(mix: Mix, count: int) -> dict[str, int]:
    """Cameras per clip name for ``count`` cameras of ``mix`` (for the report)."""
    out: dict[str, int] = {}
    for mount in camera_mounts(count, mix):
        out[mount.clip.name] = out.get(mount.clip.name, 0) + 1
    return out
