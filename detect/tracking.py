"""Per-camera tracking: give each detection a track id that stays with the object.

We use ByteTrack as implemented by Roboflow's ``trackers`` package (the successor of
``supervision.ByteTrack``); it needs numpy, scipy and supervision, not torch. ByteTrack matches
boxes to tracks in two rounds: confident boxes first, then the weak ones (down to the
detector's floor) against the tracks still unmatched, which keeps a person through a moment of
occlusion where the detector is unsure. So the detector runs with a low floor
(:data:`TRACKING_FLOOR`) and the site's ``confidence`` becomes the tracker's threshold for
*confident* boxes and for starting a new track.

Each call passes the frame's capture time: the Kalman filter then predicts over the real gap
between analysed frames, which varies when the core degrades a camera's rate under overload, and
a track survives :data:`LOST_AFTER_S` seconds without a match, whatever the rate.

A track is confirmed (gets an id >= 0) on its second matched frame; boxes of unconfirmed tracks
are left out of what :meth:`CameraTracker.update` returns. Ids start at 0 for each camera and
never repeat while the core runs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import supervision as sv
from trackers import ByteTrackTracker

from detect.detections import Detections

TRACKING_FLOOR = 0.1
"""The lowest detection score passed to the tracker (ByteTrack's second round)."""
LOST_AFTER_S = 3.0
"""How long a track without a matching box is kept before it is dropped for good."""
_BUFFER_UNIT_FPS = 30.0
"""``trackers`` counts its lost-track buffer in frames at 30 fps, whatever the real rate."""


class CameraTracker:
    """ByteTrack for one camera: :meth:`update` with each analysed frame, in capture order."""

    def __init__(self, fps: float, confidence: float) -> None:
        self._tracker = ByteTrackTracker(
            lost_track_buffer=round(LOST_AFTER_S * _BUFFER_UNIT_FPS),
            frame_rate=fps,
            track_activation_threshold=confidence,
            high_conf_det_threshold=confidence,
            minimum_consecutive_frames=2,
        )
        self._last_t: float | None = None

    def update(self, detections: Detections, t: float) -> Detections:
        """The frame's detections that belong to confirmed tracks, with their ``tracker_id``.

        ``t`` is the capture time in seconds. A frame not newer than the previous one cannot be
        placed on the track timeline: it gives no tracked detections and changes no track.
        """
        return self.track(detections, t)[0]

    def track(self, detections: Detections, t: float) -> tuple[Detections, npt.NDArray[np.intp]]:
        """:meth:`update`, plus the row of ``detections`` each tracked detection came from."""
        if self._last_t is not None and t <= self._last_t:
            empty = Detections.empty().with_tracker_ids(np.empty(0, np.int64))
            return empty, np.empty(0, np.intp)
        self._last_t = t
        rows = np.arange(len(detections))
        tracked = self._tracker.update(
            sv.Detections(
                xyxy=detections.xyxy,
                confidence=detections.confidence,
                class_id=detections.class_id,
                data={"row": rows},
            ),
            timestamp=t,
        )
        ids = np.asarray(tracked.tracker_id, np.int64)
        confirmed = ids >= 0
        order = np.asarray(tracked.data.get("row", rows[:0]), np.intp)[confirmed]
        tracked_detections = Detections(
            xyxy=detections.xyxy[order],
            confidence=detections.confidence[order],
            class_id=detections.class_id[order],
            tracker_id=ids[confirmed],
        )
        return tracked_detections, order
