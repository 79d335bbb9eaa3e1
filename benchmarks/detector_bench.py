"""Detector throughput (images/s) by runtime, model, batch size, input size and threads.

What is timed is :meth:`detect.detector.Detector.detect` as the detection core calls it: letterbox,
inference and NMS, with the production score floor (:data:`detect.tracking.TRACKING_FLOOR`).
The frames are 16 real 16:9 camera pictures (four clips of the library, scaled to 640x360 as
ingest does), so a batch uses the minimum letterbox rectangle (384x640 at 640, 256x416 at 416,
192x320 at 320).

The models are the fp32 ``yolov8n.onnx`` and the int8 ``yolov8n-int8.xml`` that ``matthan
quantize`` makes (OpenVINO only: onnxruntime cannot read the IR). A "runtime" below is a backend
with one model, e.g. ``openvino yolov8n-int8.xml``.

Each measurement runs the 16 frames through one configuration in batches of its size; the grid of
configurations is run ``--repeats`` times, interleaved, and each configuration's median is
reported. ``realtime_cameras_at_5fps`` divides the best rate by 5 fps times the motion gate's pass
ratio measured by ``benchmarks.ingest_bench`` (read from ``ingest-latest.json`` when present; the
JSON says which ratio it assumed).

``--in-flight`` picks how a batch is run: 0 (the default) calls ``Detector.detect``, one
synchronous request at a time; N >= 1 pipelines the batches through an
:class:`detect.inference.InferenceQueue` with N in inference at once, letterboxing the next batch
and running NMS on finished ones meanwhile, as the asynchronous detection core does (the backend
is made with ``in_flight=N``). ``--square`` feeds centre square crops (360x360) instead of whole
frames, as regions mode does, so 320 means 320x320 inputs. ``--decode-load N`` keeps N processes
decoding the PETS clip with PyAV (one thread each) during the whole run, standing in for ingest
workers that share the cores with the detector. ``--laps N`` runs the frames N times per
measurement (a pipeline needs more than a few batches to reach its pace).

Run: ``.venv/bin/python -m benchmarks.detector_bench [--backends openvino onnxruntime]
[--models yolov8n.onnx yolov8n-int8.xml] [--batches 1 4 8] [--sizes 320 416 640] [--threads 1 2]
[--repeats 5] [--in-flight 0 1 2] [--square] [--decode-load 1] [--laps 10]``
Results: ``benchmarks/results/detector-<time>.json`` and ``detector-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np
import numpy.typing as npt

from benchmarks.machine import machine_info, write_report
from common.paths import default_clips_dir, resolve_model
from detect.backends.factory import BackendKind, create_backend
from detect.detector import Detector
from detect.inference import InferenceQueue
from detect.letterbox import LetterboxBatch
from detect.tracking import TRACKING_FLOOR

RESULTS = Path(__file__).parent / "results"
ANALYSIS_FPS = 5.0
PRODUCTION_THREADS = 1
"""``detector.threads``' default in the site config: the summary reports that setting."""
CLIPS = (
    "intel_parking_lot_cars.mp4",
    "intel_indoor_one_by_one_person.mp4",
    "empty_parking_lot_pingpong.mp4",
    "pets09_s2l1_vtest.mp4",
)
LOAD_CLIP = "pets09_s2l1_vtest.mp4"
NMS_IOU = 0.45
Frame = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Cell:
    """One configuration of the grid."""

    backend: BackendKind
    model: str
    imgsz: int
    batch: int
    threads: int
    in_flight: int = 0
    """0: synchronous ``Detector.detect``; N: an ``InferenceQueue`` with N batches in flight."""

    def label(self) -> str:
        """How the summary names the cell's runtime, e.g. ``openvino yolov8n.onnx``."""
        mode = "" if self.in_flight == 0 else f" in_flight={self.in_flight}"
        return f"{self.backend} {self.model}{mode}"


def camera_frames(per_clip: int = 4, every: int = 25, square: bool = False) -> list[Frame]:
    """Frames 0, ``every``, 2 * ``every``, ... of each clip, scaled to 640x360 like a sub-stream;
    with ``square``, their centre 360x360."""
    frames: list[Frame] = []
    for name in CLIPS:
        with av.open(str(default_clips_dir() / name)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index % every:
                    continue
                image = frame.to_ndarray(format="bgr24")
                small = cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA)
                frames.append(cast(Frame, small[:, 140:500].copy() if square else small))
                if index == every * (per_clip - 1):
                    break
    return frames


@dataclass(frozen=True, slots=True)
class Runner:
    """Runs one cell's batches through its detector: synchronously (``Detector.detect``) or
    through an ``InferenceQueue``, as the asynchronous detection core does."""

    cell: Cell
    detector: Detector

    def run_once(self, frames: list[Frame]) -> float:
        """Images per second for one pass over ``frames`` in batches of the cell's size."""
        started = time.perf_counter()
        if self.cell.in_flight == 0:
            for batch in self._batches(frames):
                self.detector.detect(batch)
        else:
            self._run_queued(frames)
        return len(frames) / (time.perf_counter() - started)

    def _batches(self, frames: list[Frame]) -> Iterator[list[Frame]]:
        for start in range(0, len(frames), self.cell.batch):
            yield frames[start : start + self.cell.batch]

    def _run_queued(self, frames: list[Frame]) -> None:
        """Letterbox the next batch and run NMS on finished ones while batches infer."""
        detector = self.detector
        with InferenceQueue[LetterboxBatch](detector.backend, self.cell.in_flight) as queue:
            for batch in self._batches(frames):
                prepared = detector.prepare(batch)
                for done in queue.submit(prepared.tensor, prepared):
                    detector.decode(done.output, done.token)
            for done in queue.drain():
                detector.decode(done.output, done.token)


def measure(cells: list[Cell], frames: list[Frame], repeats: int) -> dict[Cell, list[float]]:
    """Rates of every cell, ``repeats`` times, the grid interleaved to spread the noise."""
    keys = {(cell.backend, cell.model, cell.threads, max(cell.in_flight, 1)) for cell in cells}
    backends = {key: create_backend(key[0], resolve_model(key[1]), *key[2:]) for key in keys}
    runners = [
        Runner(
            cell,
            Detector(
                backends[cell.backend, cell.model, cell.threads, max(cell.in_flight, 1)],
                imgsz=cell.imgsz,
                confidence=TRACKING_FLOOR,
                iou=NMS_IOU,
            ),
        )
        for cell in cells
    ]
    for runner in runners:  # first call per shape compiles it: not timed
        runner.run_once(frames[: runner.cell.batch])
    rates: dict[Cell, list[float]] = {cell: [] for cell in cells}
    for round_index in range(repeats):
        for runner in runners:
            rates[runner.cell].append(runner.run_once(frames))
        print(f"round {round_index + 1}/{repeats} done", file=sys.stderr, flush=True)
    for backend in backends.values():
        backend.close()
    return rates


def decode_forever(clip: Path, stop: Event) -> None:
    """Decode ``clip`` in a loop on one thread, to a small grey picture per frame, until
    ``stop``: roughly what an ingest worker's decoding costs the cores."""
    while not stop.is_set():
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_count = 1
            for frame in container.decode(stream):
                frame.to_ndarray(format="gray", width=320, height=180)
                if stop.is_set():
                    return


@contextmanager
def decode_load(processes: int) -> Iterator[None]:
    """``processes`` processes running :func:`decode_forever` while the block runs."""
    stop = multiprocessing.Event()
    clip = default_clips_dir() / LOAD_CLIP
    workers = [
        multiprocessing.Process(target=decode_forever, args=(clip, stop), daemon=True)
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)


def motion_pass_ratio() -> tuple[float, str]:
    """The share of candidate frames the motion gate lets through, and where it comes from."""
    ingest = RESULTS / "ingest-latest.json"
    if ingest.is_file():
        runs = json.loads(ingest.read_text(encoding="utf-8")).get("runs", [])
        ratios = [run["motion_pass_ratio"] for run in runs if "motion_pass_ratio" in run]
        if ratios:
            ratio = statistics.median(ratios)
            return ratio, f"motion gate pass ratio {ratio} (median of {ingest.name} runs)"
    return 1.0, "every candidate frame analysed (no motion-gate ratio measured yet)"


def summarise(rates: dict[Cell, list[float]]) -> dict[str, Any]:
    """Medians at the production thread count, the best cell, and cameras in real time."""
    images: dict[str, dict[str, dict[str, float]]] = {}
    for cell, samples in rates.items():
        if cell.threads == PRODUCTION_THREADS:
            by_size = images.setdefault(cell.label(), {}).setdefault(str(cell.imgsz), {})
            by_size[str(cell.batch)] = round(statistics.median(samples), 1)
    ratio, assumes = motion_pass_ratio()
    cameras: dict[str, Any] = {"assumes": f"{ANALYSIS_FPS:g} fps per camera; {assumes}"}
    best_overall: dict[str, Any] = {}
    for size in sorted({cell.imgsz for cell in rates}):
        cell, samples = max(
            ((c, s) for c, s in rates.items() if c.imgsz == size),
            key=lambda item: statistics.median(item[1]),
        )
        rate = statistics.median(samples)
        cameras[str(size)] = int(rate / (ANALYSIS_FPS * ratio))
        if rate > best_overall.get("images_per_s", 0.0):
            best_overall = {**cell_dict(cell), "images_per_s": round(rate, 1)}
    return {"images_per_s": images, "best": best_overall, "realtime_cameras_at_5fps": cameras}


def cell_dict(cell: Cell) -> dict[str, Any]:
    return {
        "backend": cell.backend,
        "model": cell.model,
        "imgsz": cell.imgsz,
        "batch": cell.batch,
        "threads": cell.threads,
        "in_flight": cell.in_flight,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["openvino", "onnxruntime"])
    parser.add_argument("--models", nargs="+", default=["yolov8n.onnx", "yolov8n-int8.xml"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 416, 640])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--in-flight",
        type=int,
        nargs="+",
        default=[0],
        help="0: synchronous Detector.detect; N: InferenceQueue with N batches in flight",
    )
    parser.add_argument("--laps", type=int, default=1, help="passes over the frames per sample")
    parser.add_argument("--square", action="store_true", help="centre square crops of frames")
    parser.add_argument(
        "--decode-load", type=int, default=0, help="processes decoding a clip meanwhile"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cells = [
        Cell(backend, model, size, batch, threads, in_flight)
        for backend in args.backends
        for model in args.models
        if backend == "openvino" or not model.endswith(".xml")  # onnxruntime reads ONNX only
        for size in args.sizes
        for batch in args.batches
        for threads in args.threads
        for in_flight in args.in_flight
    ]
    frames = camera_frames(square=args.square) * args.laps
    with decode_load(args.decode_load):
        rates = measure(cells, frames, args.repeats)
    report = {
        "benchmark": "detector",
        "machine": machine_info(),
        "command": "python -m benchmarks.detector_bench " + " ".join(sys.argv[1:]),
        "settings": {
            "models": args.models,
            "frames": f"{len(frames) // args.laps} real frames x {args.laps} laps, "
            f"{frames[0].shape[1]}x{frames[0].shape[0]}, from {', '.join(CLIPS)}",
            "timed": "letterbox + inference + NMS: Detector.detect (in_flight 0) or "
            "InferenceQueue (in_flight N)",
            "decode_load_processes": args.decode_load,
            "score_floor": TRACKING_FLOOR,
            "repeats": args.repeats,
            "summary_threads": PRODUCTION_THREADS,
        },
        "summary": summarise(rates),
        "runs": [
            {
                **cell_dict(cell),
                "images_per_s_median": round(statistics.median(samples), 1),
                "images_per_s_min": round(min(samples), 1),
                "images_per_s_max": round(max(samples), 1),
                "samples": [round(sample, 1) for sample in samples],
            }
            for cell, samples in rates.items()
        ],
    }
    write_report(args.out, "detector", report)
    print(json.dumps(report["summary"], indent=2))
    print(f"wrote {args.out / 'detector-latest.json'}")


if __name__ == "__main__":
    main()
