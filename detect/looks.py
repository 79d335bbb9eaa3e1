"""Where the model looks in one frame of one camera: the frame, some regions, or nowhere.

In ``frame`` mode every analysed frame is looked at whole (letterboxed into ``input_size``). In
``regions`` mode (:mod:`detect.regions`) the look follows what moves:

* **whole** (the frame covered by squares): the camera's first frame, the motion gate's periodic
  refresh (so that something that never moves is still found), and whenever the regions would
  cost as much as covering the frame;
* the look costs one model image per region, so among the regions at the model's size, the
  whole frame, and *coarse* regions up to :data:`COARSE_SCALE` times the model's size (scaled
  down), the planner takes the fewest images, preferring full resolution on a tie: a scene busy
  in one part of the picture is looked at in one coarse crop rather than the whole frame's two;
* **regions** around the boxes that moved (from the motion gate), where moving tracks are
  expected, around new objects not yet confirmed as tracks, and around stationary tracks due
  for their recheck (every ``stationary_recheck_s``);
* **nowhere** when none of these is there: a still scene with nothing moving costs no inference.
  The frame still goes through the tracker, with the tracks held where they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from common.config import DetectorConfig
from common.messages import FrameRef
from detect.regions import Region, cluster, cover
from detect.track_book import TrackBook

COARSE_SCALE = 1.5
"""Regions may grow to this many times the model size (scaled down to it) when that saves crops."""
WHOLE_LOOKS = frozenset({"first", "refresh"})
"""Motion gate reasons (:class:`ingest.motion.Reason`) that ask for a whole-frame look."""


class LookKind(StrEnum):
    """How a frame was looked at; a label of ``matthan_detector_looks_total``."""

    FRAME = "frame"
    WHOLE = "whole"
    REGIONS = "regions"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Look:
    """What the model looks at in one frame: nothing, the whole frame, or square regions."""

    kind: LookKind
    regions: tuple[Region, ...] = ()

    @property
    def infers(self) -> bool:
        return self.kind != LookKind.NONE


FRAME_LOOK = Look(LookKind.FRAME)
NO_LOOK = Look(LookKind.NONE)


class LookPlanner:
    """Plans the look at each analysed frame of one camera, from its frame handle and tracks."""

    def __init__(self, config: DetectorConfig) -> None:
        self._regions_mode = config.mode == "regions"
        self._size = config.region_size
        self._recheck_s = config.stationary_recheck_s
        self._looked_whole = False

    def plan(self, ref: FrameRef, book: TrackBook) -> Look:
        """The look at the frame behind ``ref``, given the camera's tracks ``book``."""
        if not self._regions_mode:
            return FRAME_LOOK
        width, height, t = ref.width, ref.height, ref.captured_at
        whole = cover(width, height, self._size)
        if ref.look in WHOLE_LOOKS or not self._looked_whole:
            self._looked_whole = True
            return Look(LookKind.WHOLE, tuple(whole))
        moved = np.asarray(ref.moved, np.float32).reshape(-1, 4)
        moved *= np.array([width, height, width, height], np.float32)
        boxes = np.concatenate(
            [moved, book.candidates, book.moving_boxes(t), book.due_boxes(t, self._recheck_s)]
        )
        regions: list[Region] = cluster(boxes, self._size, width, height)
        if len(regions) <= 1:
            return Look(LookKind.REGIONS, tuple(regions)) if regions else NO_LOOK
        coarse = cluster(boxes, round(COARSE_SCALE * self._size), width, height)
        options = [
            (len(regions), LookKind.REGIONS, regions),
            (len(whole), LookKind.WHOLE, whole),
            (len(coarse), LookKind.REGIONS, coarse),
        ]
        _, kind, chosen = min(options, key=lambda option: option[0])  # first of the fewest
        return Look(kind, tuple(chosen))
