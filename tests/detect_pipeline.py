"""Helpers for the detection tests that run the real core on real frames (not a test module).

:class:`CorePipeline` is the detection core as the detect process runs it (real model, trackers,
rules, alerts in a real SQLite store), fed frame by frame by the test instead of by the batcher.
Capture times are stream times (a fixed base plus each frame's presentation time), so that the
rules see the clip's own timing however slowly the test machine analyses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

from common import alert_rows
from common.alert_rows import AlertRecord
from common.config import SiteConfig
from common.messages import FrameRef
from common.store import Store
from detect.core import DetectionCore, build_detector
from detect.frames import PendingFrame
from tests.paths import models_dir

Frame = npt.NDArray[np.uint8]
STREAM_BASE = 1_800_000_000.0
"""Capture time of stream time 0 (a fixed wall-clock moment, at noon UTC)."""


def site(camera: dict[str, Any], input_size: int = 640, confidence: float = 0.35) -> SiteConfig:
    """A one-camera site around ``camera`` (a dict as in the YAML) with the real model."""
    return SiteConfig.model_validate(
        {
            "site": {"name": "test", "timezone": "UTC"},
            "detector": {
                "model": str(models_dir() / "yolov8n.onnx"),
                "input_size": input_size,
                "confidence": confidence,
                "threads": 2,
            },
            "cameras": [{"name": camera["id"], "detect_url": "rtsp://127.0.0.1/x", **camera}],
        }
    )


class CorePipeline:
    """A :class:`DetectionCore` on one site, with its store under ``folder``."""

    def __init__(self, site_config: SiteConfig, folder: Path) -> None:
        self.store = Store(folder / "test.db")
        self.core = DetectionCore(site_config, self.store, None, build_detector(site_config))

    def analyse(self, camera_id: str, image: Frame, stream_time: float) -> None:
        height, width = image.shape[:2]
        ref = FrameRef(camera_id, "", 0, 0, height, width, stream_time, STREAM_BASE + stream_time)
        self.core.process([PendingFrame(ref, image)])

    def alerts(self) -> list[AlertRecord]:
        """Every alert stored, oldest first."""
        return alert_rows.alerts_after(self.store, 0)

    def close(self) -> None:
        self.store.close()


def frames_of(
    url_or_path: str, fps: float, until_s: float, long_side: int = 640
) -> Iterator[tuple[float, Frame]]:
    """``(stream time, BGR frame)`` at ``fps``, scaled to ``long_side``, up to ``until_s``.

    Frames are picked on the stream's own clock, as ingest's sampler does; a URL is read over
    RTSP/TCP. Frames without a timestamp (the very first one of an RTSP session) are skipped.
    """
    options = {"rtsp_transport": "tcp", "analyzeduration": "500000", "probesize": "32768"}
    is_rtsp = url_or_path.startswith("rtsp://")
    with av.open(url_or_path, options=options if is_rtsp else {}, timeout=(10.0, 10.0)) as box:
        stream = box.streams.video[0]
        assert stream.time_base is not None
        next_due = 0.0
        for frame in box.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base)
            if t > until_s:
                return
            if t + 1e-6 < next_due:
                continue
            next_due = t + 1.0 / fps - 0.02
            image = frame.to_ndarray(format="bgr24")
            scale = long_side / max(image.shape[:2])
            if scale < 1:
                size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            yield t, image
