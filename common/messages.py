"""The messages that cross a process or queue boundary, one frozen dataclass each.

They stay small on purpose: pixels never travel in a message, only the handle of a
shared-memory slot that holds them (see :mod:`ingest.frame_ring`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class FrameRef:
    """One analysis frame waiting in a shared-memory ring.

    ``seq`` is the slot's write counter when the frame was written: the reader compares it
    after copying the pixels, and a mismatch means the slot was overwritten meanwhile.
    """

    camera_id: str
    ring: str
    slot: int
    seq: int
    height: int
    width: int
    pts: float
    captured_at: float
    look: str = "motion"
    """Why ingest sent it: the motion gate's reason (``first``, ``motion``, ``hold``, ``refresh``;
    see :class:`ingest.motion.Reason`). ``first`` and ``refresh`` ask for a whole-frame look."""
    moved: tuple[tuple[float, float, float, float], ...] = ()
    """The boxes that moved, as fractions of the width and height (x1, y1, x2, y2); at most
    :data:`MAX_MOVED_BOXES`."""


MAX_MOVED_BOXES = 8
"""Moving boxes a frame handle carries at most (nearby ones are merged to fit): keeps handles
small enough for the queue's pipe."""


class Severity(StrEnum):
    """How urgently an operator should look at an alert."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """Published on the bus after an alert was committed to the store.

    Subscribers read the full alert from the store by ``alert_id``; the notice only says
    that something is there to read.
    """

    alert_id: int
    camera_id: str
    kind: str
    updated: bool = False


class CameraState(StrEnum):
    """The life of one camera connection, as the operator sees it."""

    CONNECTING = "connecting"
    ONLINE = "online"
    STALLED = "stalled"
    OFFLINE = "offline"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A camera changed state; ``detail`` says why in words an operator understands."""

    camera_id: str
    state: CameraState
    at: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TrackedBox:
    """One tracked object of an analysed frame, in the frame's pixels."""

    x1: float
    y1: float
    x2: float
    y2: float
    class_name: str
    track_id: int | None
    confidence: float


@dataclass(frozen=True, slots=True)
class FrameDetections:
    """What the rules saw in one analysed frame of one camera: its tracked boxes.

    Sent by the detection core only for cameras someone watches live (see
    :mod:`common.watching`), for the dashboard to draw over the video. ``width`` and
    ``height`` are the analysed frame's size, which the boxes' coordinates refer to.
    """

    camera_id: str
    captured_at: float
    width: int
    height: int
    boxes: tuple[TrackedBox, ...]
