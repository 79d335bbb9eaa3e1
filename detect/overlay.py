"""Send each analysed frame's tracked boxes to the dashboard, for the cameras watched live.

The dashboard draws them over the live video. The core asks the shared flags
(:class:`common.watching.WatchedCameras`) for every frame and builds a message only for a
camera someone watches. The channel is bounded (:mod:`common.channel`): when it is full the
newest boxes are dropped and counted, never waited for, so a dashboard that reads slowly or not
at all never slows analysis down.
"""

from __future__ import annotations

from common.messages import FrameDetections, FrameRef, TrackedBox
from common.watching import DetectionsChannel
from detect.detections import Detections


class OverlayPublisher:
    """Publishes the boxes the rules saw, as :class:`FrameDetections`, when watched."""

    def __init__(self, channel: DetectionsChannel, class_names: tuple[str, ...]) -> None:
        self._channel = channel
        self._class_names = class_names

    def publish(self, ref: FrameRef, tracked: Detections) -> None:
        """Send ``tracked`` (one frame's tracked detections) if ``ref``'s camera is watched."""
        if not self._channel.watched.is_watched(ref.camera_id):
            return
        message = FrameDetections(
            ref.camera_id, ref.captured_at, ref.width, ref.height, self._boxes(tracked)
        )
        self._channel.boxes.send(message)

    def _boxes(self, tracked: Detections) -> tuple[TrackedBox, ...]:
        ids = tracked.tracker_id
        track_ids = [None] * len(tracked) if ids is None else [int(i) for i in ids.tolist()]
        return tuple(
            TrackedBox(x1, y1, x2, y2, self._class_names[class_id], track_id, round(confidence, 3))
            for (x1, y1, x2, y2), class_id, track_id, confidence in zip(
                tracked.xyxy.round(1).tolist(),
                tracked.class_id.tolist(),
                track_ids,
                tracked.confidence.tolist(),
                strict=True,
            )
        )
