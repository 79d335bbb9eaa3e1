"""What frame skipping costs: event recall of the gated pipeline against detecting every frame.

For each clip, the production detection core (model, ByteTrack, rules, alerts in a real
SQLite store) runs twice on the clip's own timeline:

- **reference**: every frame of the clip is detected (the clip's full frame rate);
- **gated**: frames are sampled at the analysis rate and pass the production motion gate
  (light changes, hold, periodic refresh) before they are detected, exactly as ingest
  hands them over.

The rule is an intrusion rule over the whole picture for people and vehicles with a
presence of 1 s and no cooldown, so that every object that stays a second is one event.
A reference event counts as recalled when a gated alert of the same class starts within
``EARLY_S`` before to ``LATE_S`` after it (one-to-one, in time order); a gated alert
matched to no reference event is a false alert. Clips with no object at all (the empty lot,
the light switching) measure false alerts only.

Run on its own: ``.venv/bin/python -m benchmarks.recall [--clips ...] [--seconds 60]``.
"""

from __future__ import annotations

import argparse
import json
import queue
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av

from benchmarks.camera_mix import RECALL_CLIPS
from benchmarks.farm import default_clips_dir
from benchmarks.production import production_detector
from common.config import SiteConfig
from common.frame_ring import Frame
from common.messages import AlertNotice, FrameRef
from common.store import AlertRecord, Store
from detect.core import DetectionCore, build_detector
from detect.pending import PendingFrame
from ingest.camera_reader import luma
from ingest.motion import MotionGate, small_grey
from ingest.sampling import FrameSampler, scaled_size

SMOKE_CLIPS = ("la_cam68_1st_alameda_sidewalk.mp4",)
CLASSES = ["person", "car", "bicycle", "motorcycle", "bus", "truck"]
EARLY_S, LATE_S = 2.0, 5.0
BASE_TIME = 1_800_000_000.0
BATCH = 8


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    class_name: str


def site_for(fps: float) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"name": "recall", "timezone": "UTC"},
            "detector": json.loads(production_detector()),
            "cameras": [
                {
                    "id": "clip",
                    "name": "clip",
                    "detect_url": "rtsp://127.0.0.1/clip",
                    "analysis_fps": fps,
                    "zones": [{"name": "all", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
                    "rules": [
                        {
                            "kind": "intrusion",
                            "name": "anything",
                            "zone": "all",
                            "classes": CLASSES,
                            "min_presence_s": 1.0,
                            "cooldown_s": 0,
                        }
                    ],
                }
            ],
        }
    )


def frames(clip: Path, seconds: float, gated_fps: float | None) -> Iterator[tuple[float, Frame]]:
    """``(stream time, frame)``: every frame, or the gated pipeline's frames at ``gated_fps``."""
    sampler = FrameSampler(gated_fps) if gated_fps else None
    gate = MotionGate(site_for(5.0).cameras[0].motion)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base)
            if t > seconds:
                return
            gated_out = sampler is not None and (
                not sampler.due(t) or not gate.check(small_grey(luma(frame)), t).send
            )
            if gated_out:
                continue
            width, height = scaled_size(frame.width, frame.height, 640)
            yield t, cast(Frame, frame.reformat(width, height, "bgr24").to_ndarray())


def run_core(
    clip: Path, seconds: float, gated_fps: float | None, fps: float
) -> tuple[list[Event], int]:
    """Alerts of the detection core on the clip's frames, and how many frames it analysed."""
    site = site_for(gated_fps or fps)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "recall.db")
        notices: queue.Queue[AlertNotice] = queue.Queue()
        core = DetectionCore(site, store, notices, build_detector(site))  # type: ignore[arg-type]
        batch: list[PendingFrame] = []
        count = 0
        for t, image in frames(clip, seconds, gated_fps):
            height, width = image.shape[:2]
            ref = FrameRef("clip", "", 0, 0, height, width, t, BASE_TIME + t)
            batch.append(PendingFrame(ref, image))
            count += 1
            if len(batch) == BATCH:
                core.process(batch)
                batch = []
        if batch:
            core.process(batch)
        alerts: list[AlertRecord] = store.alerts_after(0, limit=100_000)
        store.close()
    return [Event(a.started_at - BASE_TIME, a.class_name) for a in alerts], count


def match(reference: list[Event], gated: list[Event]) -> tuple[int, int]:
    """(recalled reference events, false gated alerts), one-to-one in time order."""
    unused = sorted(gated, key=lambda e: e.at)
    recalled = 0
    for event in sorted(reference, key=lambda e: e.at):
        hit = next(
            (
                g
                for g in unused
                if g.class_name == event.class_name and -EARLY_S <= g.at - event.at <= LATE_S
            ),
            None,
        )
        if hit is not None:
            unused.remove(hit)
            recalled += 1
    return recalled, len(unused)


def clip_fps(clip: Path) -> float:
    with av.open(str(clip)) as container:
        return float(container.streams.video[0].average_rate or 10)


def measure_clip(clip: Path, seconds: float, analysis_fps: float) -> dict[str, Any]:
    fps = clip_fps(clip)
    started = time.monotonic()
    reference, all_frames = run_core(clip, seconds, None, fps)
    gated, gated_frames = run_core(clip, seconds, analysis_fps, fps)
    recalled, false = match(reference, gated)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        length = float((stream.duration or 0) * (stream.time_base or 0)) or seconds
    footage = min(seconds, length)
    return {
        "clip": clip.name,
        "seconds": round(footage, 1),
        "reference_events": len(reference),
        "gated_alerts": len(gated),
        "recalled": recalled,
        "event_recall": round(recalled / len(reference), 3) if reference else None,
        "false_alerts": false,
        "frames_reference": all_frames,
        "frames_gated": gated_frames,
        "frame_share": round(gated_frames / max(1, all_frames), 3),
        "wall_s": round(time.monotonic() - started, 1),
    }


def measure_recall(
    clips: tuple[str, ...] = RECALL_CLIPS,
    seconds: float = 60.0,
    analysis_fps: float = 5.0,
    smoke: bool = False,
) -> dict[str, Any]:
    """Per clip and overall: event recall and false alerts per hour of footage."""
    if smoke:
        clips, seconds = SMOKE_CLIPS, 3.0
    folder = default_clips_dir()
    per_clip = [measure_clip(folder / name, seconds, analysis_fps) for name in clips]
    reference = sum(c["reference_events"] for c in per_clip)
    recalled = sum(c["recalled"] for c in per_clip)
    false = sum(c["false_alerts"] for c in per_clip)
    hours = sum(c["seconds"] for c in per_clip) / 3600
    return {
        "rule": "intrusion, whole picture, people and vehicles, 1 s presence, no cooldown",
        "match_window_s": [-EARLY_S, LATE_S],
        "clips": per_clip,
        "summary": {
            "event_recall": round(recalled / reference, 3) if reference else None,
            "reference_events": reference,
            "false_alerts_per_hour": round(false / hours, 1) if hours else None,
            "frames_analysed_share": round(
                sum(c["frames_gated"] for c in per_clip)
                / max(1, sum(c["frames_reference"] for c in per_clip)),
                3,
            ),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", default=list(RECALL_CLIPS))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=5.0)
    args = parser.parse_args()
    result = measure_recall(tuple(args.clips), args.seconds, args.fps)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
