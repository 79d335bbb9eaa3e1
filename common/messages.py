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
