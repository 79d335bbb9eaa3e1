"""What live view sends over the site's NATS: the subjects, a camera's encoded video packets
and its tracked boxes, in the form both ends agree on.

- ``matthan.live.want.<site>.<camera>``: the station wants the camera live (empty message,
  sent again every :data:`WANT_EVERY_S` while someone watches; the node stops sending
  :data:`WANT_LASTS_S` after the last one);
- ``matthan.live.<site>.<camera>``: one encoded video packet per message, as the camera sent
  it (H.264, never decoded nor encoded on the way), its timing in the headers;
- ``matthan.boxes.<site>.<camera>``: one analysed frame's tracked boxes, JSON.

Core NATS, not JetStream: a live picture that is late is worth nothing, so nothing is kept.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction

from common.messages import FrameDetections, TrackedBox

WANT_ROOT = "matthan.live.want"
VIDEO_ROOT = "matthan.live"
BOXES_ROOT = "matthan.boxes"
WANT_EVERY_S = 2.0
WANT_LASTS_S = 6.0


def want_subject(site: str, camera_id: str) -> str:
    return f"{WANT_ROOT}.{site}.{camera_id}"


def video_subject(site: str, camera_id: str) -> str:
    return f"{VIDEO_ROOT}.{site}.{camera_id}"


def boxes_subject(site: str, camera_id: str) -> str:
    return f"{BOXES_ROOT}.{site}.{camera_id}"


@dataclass(frozen=True, slots=True)
class PacketTiming:
    """An encoded packet's presentation time: ``pts`` in units of ``time_base``. ``source``
    names the opening of the camera's stream that sent it (the node and a random id): after a
    failover another node sends the camera from another opening, whose times start anew."""

    pts: int
    time_base: Fraction
    keyframe: bool
    source: str = ""

    def headers(self) -> dict[str, str]:
        return {
            "pts": str(self.pts),
            "tb": f"{self.time_base.numerator}/{self.time_base.denominator}",
            "key": "1" if self.keyframe else "0",
            "src": self.source,
        }

    @classmethod
    def of(cls, headers: dict[str, str] | None) -> PacketTiming:
        """Raises ``ValueError`` for headers that are not a packet's timing."""
        if headers is None:
            raise ValueError("a live packet without its timing")
        return cls(
            pts=int(headers["pts"]),
            time_base=Fraction(headers["tb"]),
            keyframe=headers["key"] == "1",
            source=headers.get("src", ""),
        )


def encode_boxes(frame: FrameDetections) -> bytes:
    return json.dumps(asdict(frame)).encode()


def decode_boxes(data: bytes) -> FrameDetections:
    """Raises ``ValueError`` (or ``KeyError``/``TypeError``) for what is not a frame's boxes."""
    raw = json.loads(data)
    return FrameDetections(
        camera_id=str(raw["camera_id"]),
        captured_at=float(raw["captured_at"]),
        width=int(raw["width"]),
        height=int(raw["height"]),
        boxes=tuple(TrackedBox(**box) for box in raw["boxes"]),
    )
