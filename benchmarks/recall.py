"""What looking less costs: event recall of each detector mode against detecting everything.

For each clip, the production detection core (the station config's model, ByteTrack, rules,
alerts in a real SQLite store; :meth:`detect.core.DetectionCore.process`) runs once per
*variant* on the clip's own timeline, and once for the **reference**: every frame of the clip,
the whole frame at 640 (``every-frame@640``).

Variants are named ``KIND@SIZE``:

- ``sampled@S``: frames sampled at the analysis rate (5 fps, ``--fps``), no motion gate, whole
  frames at S;
- ``frame@S``: sampled, then through the production motion gate (light changes, hold,
  periodic refresh), whole frames at S: the live pipeline in frame mode;
- ``regions@S``: the same frames as ``frame@S``, in regions mode with crops of S
  (``detector.region_size``; the rest of the detector section as the station config has it);
- ``keyframes@S``: ``regions@S`` on a camera that decodes keyframes only once idle.

Frames reach the core as ingest hands them over: scaled to ``ingest.analysis_size``, and the
frame handle carries the gate's reason and the boxes that moved (``FrameRef.look``,
``FrameRef.moved``). Ungated variants say ``motion`` with no boxes, as ingest does with the
gate switched off. Frame-mode runs go through the core in batches of 8 consecutive frames
(whole-frame detections do not depend on the batch); regions-mode runs one frame at a time,
because the regions of a frame depend on the tracks of the frames before it, and a live batch
never holds two frames of one camera.

**How the loss is split.** The default variants form a ladder in which each step changes one
thing, on the same clips and the same rule:

1. ``sampled@640`` against the reference: what sampling at 5 fps alone loses;
2. ``frame@640`` against ``sampled@640``: what the motion gate loses (today's production);
3. ``frame@320`` against ``frame@640``: what a smaller whole-frame input loses;
4. ``regions@320`` against ``frame@320``: what looking only at regions loses, at the same
   model input size and on exactly the same frames (regions cannot run without the gate: its
   moved boxes come from the gate).
5. ``keyframes@320`` against ``regions@320``: what decoding keyframes only on a camera idle for
   :data:`KEYFRAMES_IDLE_S` loses (the live reader's ``motion.idle_keyframes_only_after_s``:
   frames that are not keyframes are never decoded while idle, and motion seen on a keyframe
   brings full decoding back).

Every variant is scored against the reference (``event_recall``: the headline) and against the
variant listed before it (``stage_recall``: that step's own loss, the previous step's events
that it still raises). Besides recall, each variant reports false alerts per hour of footage,
the share of frames analysed and the share of model-input pixels (letterboxed input for whole
frames; crops for regions), both against the reference. Pixels come from the core's counter
``matthan_detector_model_pixels_total`` in this process's Prometheus registry when it counts
them, else, for whole frames, from the letterbox geometry (:mod:`detect.letterbox`); regions
without the counter report null. Every ``matthan_detector_*_total`` counter's change per
variant is kept too (``detector_counters``), so that new ones (regions, crops, looks by kind)
show up without code changes.

The rule is an intrusion rule over the whole picture for people and vehicles with a presence
of 1 s and no cooldown, so that every object that stays a second is one event. A reference
event counts as recalled when an alert of the same class starts within ``EARLY_S`` before to
``LATE_S`` after it (one-to-one, in time order); an alert matched to no reference event is a
false alert. Clips with no object at all (the empty lot, the light switching) measure false
alerts only.

Run: ``.venv/bin/python -m benchmarks.recall [--variants sampled@640 frame@640 ...]
[--clips ...] [--seconds 60]``; ``--smoke`` runs one variant on 3 s of one clip.
Results: ``benchmarks/results/recall-<time>.json``, ``recall-latest.json`` and
``recall-latest.png`` (recall against the share of frames analysed, one point per variant).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
from prometheus_client import REGISTRY

from benchmarks.camera_mix import RECALL_CLIPS
from benchmarks.machine import machine_info
from benchmarks.production import detector_settings
from benchmarks.service_probe import Samples, counter_totals
from common import alert_rows
from common.alert_rows import AlertRecord
from common.config import CameraConfig, SiteConfig
from common.frame_ring import Frame
from common.messages import FrameRef
from common.paths import default_clips_dir
from common.store import Store
from detect.core import DetectionCore, build_detector
from detect.frames import PendingFrame
from ingest.decode import AnalysisScaler, FrameSampler, luma
from ingest.motion import MotionGate, Reason, small_grey
from ingest.picker import AnalysisPicker

RESULTS = Path(__file__).parent / "results"
SMOKE_CLIPS = ("la_cam68_1st_alameda_sidewalk.mp4",)
SMOKE_SECONDS = 3.0
CLASSES = ["person", "car", "bicycle", "motorcycle", "bus", "truck"]
EARLY_S, LATE_S = 2.0, 5.0
BASE_TIME = 1_800_000_000.0
FRAME_MODE_BATCH = 8
ANALYSIS_FPS = 5.0
PIXELS_METRIC = "matthan_detector_model_pixels_total"
STRIDE = 32
KINDS = ("sampled", "frame", "regions", "keyframes")
DEFAULT_VARIANTS = ("sampled@640", "frame@640", "frame@320", "regions@320", "keyframes@320")
KEYFRAMES_IDLE_S = 10.0
"""``keyframes@S``: regions@S on a camera that decodes keyframes only after this long idle."""
Moved = tuple[tuple[float, float, float, float], ...]


@dataclass(frozen=True, slots=True)
class Variant:
    """What the core is given: which frames (sampled at the analysis rate? through the motion
    gate?) and the detector settings that differ from the station config's."""

    name: str
    sampled: bool
    gated: bool
    detector: dict[str, Any] = field(default_factory=dict)
    idle_keyframes_s: float | None = None
    """Decode keyframes only once the camera was idle this long (``motion.idle_keyframes_only
    _after_s``), as the live reader does; None: every frame is decoded."""

    @property
    def regions(self) -> bool:
        return bool(self.detector.get("mode") == "regions")


REFERENCE = Variant("every-frame@640", False, False, {"mode": "frame", "input_size": 640})


def parse_variant(text: str) -> Variant:
    """``sampled@640``, ``frame@320``, ``regions@320``: see the module docstring."""
    kind, _, size_text = text.partition("@")
    if kind not in KINDS or not size_text.isdigit() or int(size_text) % STRIDE:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected KIND@SIZE, KIND one of {KINDS}, SIZE a multiple of {STRIDE}"
        )
    size = int(size_text)
    if kind == "regions":
        return Variant(text, True, True, {"mode": "regions", "region_size": size})
    if kind == "keyframes":
        regions = {"mode": "regions", "region_size": size}
        return Variant(text, True, True, regions, idle_keyframes_s=KEYFRAMES_IDLE_S)
    return Variant(text, True, kind == "frame", {"mode": "frame", "input_size": size})


def live_variant(name: str, detector: dict[str, Any]) -> Variant:
    """The live pipeline with this detector section: sampled, gated, as configured."""
    return Variant(name, True, True, dict(detector))


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    class_name: str


@dataclass(slots=True)
class Run:
    """One variant on one clip: its alerts and what the core was given."""

    events: list[Event]
    frames: int
    pixels: float | None
    pixels_source: str | None
    counters: dict[str, float]
    wall_s: float


def site_for(fps: float, variant: Variant) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "site": {"name": "recall", "timezone": "UTC"},
            "detector": detector_settings() | variant.detector,
            "cameras": [
                {
                    "id": "clip",
                    "name": "clip",
                    "detect_url": "rtsp://127.0.0.1/clip",
                    "analysis_fps": fps,
                    "motion": {"idle_keyframes_only_after_s": variant.idle_keyframes_s},
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


def idle_for_keyframes(picker: AnalysisPicker, camera: CameraConfig, t: float) -> bool:
    """Whether the live reader would decode keyframes only at ``t`` (:class:`DecodePolicy`)."""
    idle_after = camera.motion.idle_keyframes_only_after_s
    return idle_after is not None and not picker.bursting(t) and picker.idle_for(t) >= idle_after


def handed_over(
    clip: Path, seconds: float, variant: Variant, site: SiteConfig
) -> Iterator[tuple[FrameRef, Frame]]:
    """The frames ingest would hand the core for ``variant``, with their handles."""
    camera = site.cameras[0]
    fps = site.analysis_fps(camera)
    # Sampled and gated: ingest's own picker (sampling grid, gate, bursts on new motion).
    picker = AnalysisPicker(fps, camera.motion) if variant.sampled and variant.gated else None
    sampler = FrameSampler(fps) if variant.sampled and picker is None else None
    gate = MotionGate(camera.motion) if variant.gated and picker is None else None
    scale = AnalysisScaler(site.ingest.analysis_size)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base)
            if t > seconds:
                return
            if sampler is not None and not sampler.due(t):
                continue
            keyframes_only = picker is not None and idle_for_keyframes(picker, camera, t)
            if keyframes_only and not frame.key_frame:
                continue  # the live reader would not even have decoded it
            if picker is not None and not (picker.due(t) or keyframes_only):
                continue
            look: str = Reason.MOTION.value
            moved: Moved = ()
            verdict = None
            if picker is not None:
                verdict = picker.judge(small_grey(luma(frame)), t)[0]
            elif gate is not None:
                verdict = gate.check(small_grey(luma(frame)), t)
            if verdict is not None:
                if not verdict.send:
                    continue
                look, moved = verdict.reason.value, verdict.boxes
            image = scale(frame)
            height, width = image.shape[:2]
            ref = FrameRef(
                "clip", "", 0, 0, height, width, t, BASE_TIME + t, look=look, moved=moved
            )
            yield ref, image


def letterbox_pixels(height: int, width: int, imgsz: int) -> int:
    """Model-input pixels of one whole frame: ultralytics' minimum letterbox rectangle, as
    :func:`detect.letterbox.letterbox` makes for a batch of same-size frames."""
    ratio = min(imgsz / height, imgsz / width)
    new_h, new_w = round(height * ratio), round(width * ratio)
    return (new_h + (imgsz - new_h) % STRIDE) * (new_w + (imgsz - new_w) % STRIDE)


def registry_samples() -> Samples:
    """This process's Prometheus samples, keyed like :func:`benchmarks.service_probe.scrape`."""
    samples: Samples = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = samples.get(key, 0.0) + sample.value
    return samples


def run_core(clip: Path, seconds: float, variant: Variant, fps: float) -> Run:
    """Alerts of the detection core on the clip's frames for ``variant``; ``fps`` is the
    camera's analysis rate (the sampling rate, or the clip's own for unsampled variants)."""
    site = site_for(fps, variant)
    imgsz = site.detector.input_size
    batch_size = 1 if variant.regions else FRAME_MODE_BATCH
    started = time.monotonic()
    before = counter_totals(registry_samples())
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "recall.db")
        core = DetectionCore(site, store, None, build_detector(site))
        batch: list[PendingFrame] = []
        count, geometry = 0, 0
        for ref, image in handed_over(clip, seconds, variant, site):
            batch.append(PendingFrame(ref, image))
            count += 1
            geometry += letterbox_pixels(ref.height, ref.width, imgsz)
            if len(batch) == batch_size:
                core.process(batch)
                batch = []
        if batch:
            core.process(batch)
        alerts: list[AlertRecord] = alert_rows.alerts_after(store, 0, limit=100_000)
        store.close()
    after = counter_totals(registry_samples())
    counters = {k: after[k] - before.get(k, 0.0) for k in sorted(after)}
    counters = {k: v for k, v in counters.items() if v}
    counted = sum(v for k, v in counters.items() if k.split("{")[0] == PIXELS_METRIC)
    pixels: float | None
    if counted > 0:
        pixels, source = counted, PIXELS_METRIC
    elif not variant.regions:
        pixels, source = float(geometry), "letterbox geometry"
    else:
        pixels, source = None, None
    events = [Event(a.started_at - BASE_TIME, a.class_name) for a in alerts]
    return Run(events, count, pixels, source, counters, time.monotonic() - started)


def match(reference: list[Event], found: list[Event]) -> tuple[int, int]:
    """(recalled reference events, alerts matched to none), one-to-one in time order."""
    unused = sorted(found, key=lambda e: e.at)
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


def clip_info(clip: Path) -> tuple[float, float]:
    """(frames per second, length in seconds) from the container."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 10)
        length = float((stream.duration or 0) * (stream.time_base or 0))
    return fps, length


def ratio(part: float | None, whole: float | None, digits: int = 3) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole, digits)


def measure_clip(
    clip: Path, seconds: float, variants: Sequence[Variant], analysis_fps: float
) -> dict[str, Any]:
    """The reference and every variant on one clip."""
    fps, length = clip_info(clip)
    reference = run_core(clip, seconds, REFERENCE, fps)
    runs = {
        variant.name: run_core(clip, seconds, variant, analysis_fps if variant.sampled else fps)
        for variant in variants
    }
    per_variant: dict[str, Any] = {}
    previous: Run | None = None
    for variant in variants:
        run = runs[variant.name]
        recalled, false = match(reference.events, run.events)
        stage = match(previous.events, run.events)[0] if previous is not None else None
        per_variant[variant.name] = {
            "alerts": len(run.events),
            "recalled": recalled,
            "event_recall": ratio(recalled, len(reference.events)),
            "false_alerts": false,
            "previous_events": len(previous.events) if previous is not None else None,
            "stage_recalled": stage,
            "frames": run.frames,
            "frame_share": ratio(run.frames, reference.frames),
            "pixels": run.pixels,
            "pixels_source": run.pixels_source,
            "pixel_share": ratio(run.pixels, reference.pixels),
            "detector_counters": run.counters,
            "wall_s": round(run.wall_s, 1),
        }
        previous = run
    return {
        "clip": clip.name,
        "seconds": round(min(seconds, length or seconds), 1),
        "reference_events": len(reference.events),
        "reference_frames": reference.frames,
        "reference_pixels": reference.pixels,
        "reference_wall_s": round(reference.wall_s, 1),
        "variants": per_variant,
    }


def summarise(name: str, previous: str | None, clips: list[dict[str, Any]]) -> dict[str, Any]:
    """One variant over all clips."""
    mine = [clip["variants"][name] for clip in clips]

    def total(key: str, rows: list[dict[str, Any]] = mine) -> float:
        return float(sum(row[key] for row in rows))

    pixels = None if any(row["pixels"] is None for row in mine) else total("pixels")
    reference_pixels = (
        None
        if any(clip["reference_pixels"] is None for clip in clips)
        else total("reference_pixels", clips)
    )
    hours = total("seconds", clips) / 3600
    counters: dict[str, float] = {}
    for row in mine:
        for key, value in row["detector_counters"].items():
            counters[key] = counters.get(key, 0.0) + value
    stage_base = total("previous_events") if previous is not None else 0.0
    return {
        "event_recall": ratio(total("recalled"), total("reference_events", clips)),
        "false_alerts_per_hour": round(total("false_alerts") / hours, 1) if hours else None,
        "frames_analysed_share": ratio(total("frames"), total("reference_frames", clips)),
        "pixels_analysed_share": ratio(pixels, reference_pixels, 4),
        "pixels_source": sorted({str(row["pixels_source"]) for row in mine}),
        "stage_against": previous,
        "stage_recall": ratio(total("stage_recalled"), stage_base) if previous else None,
        "alerts": int(total("alerts")),
        "detector_counters": dict(sorted(counters.items())),
        "wall_s": round(total("wall_s"), 1),
    }


def measure_recall(
    clips: tuple[str, ...] = RECALL_CLIPS,
    seconds: float = 60.0,
    variants: Sequence[Variant] | None = None,
    smoke: bool = False,
    analysis_fps: float = ANALYSIS_FPS,
) -> dict[str, Any]:
    """Per clip and per variant: event recall against the reference, false alerts per hour
    of footage, shares of frames and pixels analysed."""
    if variants is None:
        variants = [parse_variant(name) for name in DEFAULT_VARIANTS]
    if smoke:
        clips, seconds, variants = SMOKE_CLIPS, SMOKE_SECONDS, list(variants)[:1]
    folder = default_clips_dir()
    per_clip = [measure_clip(folder / name, seconds, variants, analysis_fps) for name in clips]
    names = [variant.name for variant in variants]
    return {
        "rule": "intrusion, whole picture, people and vehicles, 1 s presence, no cooldown",
        "match_window_s": [-EARLY_S, LATE_S],
        "analysis_fps": analysis_fps,
        "reference": {
            "name": REFERENCE.name,
            "events": sum(c["reference_events"] for c in per_clip),
            "frames": sum(c["reference_frames"] for c in per_clip),
            "footage_s": round(sum(c["seconds"] for c in per_clip), 1),
            "wall_s": round(sum(c["reference_wall_s"] for c in per_clip), 1),
        },
        "variants": {
            variant.name: {
                "sampled": variant.sampled,
                "gated": variant.gated,
                "detector": detector_settings() | variant.detector,
            }
            for variant in variants
        },
        "summary": {
            name: summarise(name, names[i - 1] if i else None, per_clip)
            for i, name in enumerate(names)
        },
        "clips": per_clip,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", default=list(RECALL_CLIPS))
    parser.add_argument("--seconds", type=float, default=60.0, help="footage per clip")
    parser.add_argument("--variants", nargs="+", type=parse_variant, default=list(DEFAULT_VARIANTS))
    parser.add_argument("--fps", type=float, default=ANALYSIS_FPS, help="analysis rate")
    parser.add_argument("--smoke", action="store_true", help="one variant, 3 s of one clip")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    variants = [v if isinstance(v, Variant) else parse_variant(v) for v in args.variants]
    result = measure_recall(
        tuple(args.clips), args.seconds, variants, smoke=args.smoke, analysis_fps=args.fps
    )
    report = {
        "benchmark": "recall",
        "smoke": args.smoke,
        "machine": machine_info(),
        "command": " ".join(["python -m benchmarks.recall", *sys.argv[1:]]),
    } | result
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    prefix = "smoke-recall" if args.smoke else "recall"
    names = [f"{prefix}-{stamp}.json"] + ([] if args.smoke else ["recall-latest.json"])
    for name in names:
        (args.out / name).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    from benchmarks.plot import plot_recall

    plot_recall(result, args.out / ("smoke-recall.png" if args.smoke else "recall-latest.png"))
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
