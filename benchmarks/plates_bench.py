"""Plate reading on real Vietnamese plates: accuracy on plate crops and on whole frames, latency.

Data: ``../shared/plates/vn-parking`` (or ``$MATTHAN_SHARED/plates/vn-parking``): 75 plate crops
and 14 1920x1080 parking-lot frames with the plate texts read by eye (``labels.csv``).

* crops: :class:`detect.plates.PlateReader` on each crop; ``crop_exact`` is the share read
  exactly, ``crop_char`` the share of characters right (1 - edit distance / length, letters and
  digits only); latency per read on one thread (``read_ms_p50``, ``read_ms_p95``), and reads/s
  with one reader per core.
* frames: our detector (yolov8n.onnx, onnxruntime, 640, boxes scoring >= 0.25, also swept
  over 0.1 / 0.25 / 0.35) finds the cars, motorcycles, buses and trucks; the reader reads each
  vehicle crop; ``frame_exact`` is the share of labelled plates of a frame that some vehicle
  crop of that frame read exactly. Reads of no labelled plate (the unlabelled glare plate,
  partial plates at the edges) are listed, not scored; each miss says whether a vehicle box
  held the plate (``reader``) or none did (``vehicle detection``).

Each failure is classed (text not detected, rows split wrongly, characters misread) with
examples and the raw lines read.

* main stream: what a camera with ``plates.stream: record`` costs per crop read: the time to
  get the recorded main stream's picture of a moment (``main_picture_ms_p50/p95``) and the
  frames decoded for it, against decoding that 1080p stream whole.
Results: ``benchmarks/results/plates-<time>.json`` and ``plates-latest.json``.

    .venv/bin/python -m benchmarks.plates_bench
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from benchmarks.machine import machine_info, write_report
from detect.backends.factory import create_backend
from detect.detector import Detector, class_ids_for
from detect.plates import PlateRead, PlateReader
from detect.plates.formats import compact
from detect.plates.main_stream import MainStreamFrames
from detect.plates.rows import group_rows
from detect.plates.text_lines import Image
from ingest.recorder import SegmentRecorder, segment_start
from matthan.farm.photo_clip import MOTORBIKE_FRAMES, photo_clip

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
VEHICLES = ("car", "motorcycle", "bus", "truck")
CROP_PAD = 0.05
"""Each vehicle box is grown by this share of its size on every side before it is read."""


def shared_dir() -> Path:
    """The shared assets folder (``$MATTHAN_SHARED``, else ``../shared``)."""
    return Path(os.environ.get("MATTHAN_SHARED", REPO.parent / "shared"))


def data_dir() -> Path:
    """The vn-parking data set in the shared folder."""
    return shared_dir() / "plates" / "vn-parking"


def model_path() -> Path:
    """The vehicle detector (``$MATTHAN_MODELS/yolov8n.onnx``, else the shared models')."""
    return Path(os.environ.get("MATTHAN_MODELS", shared_dir() / "models")) / "yolov8n.onnx"


def load_image(path: Path) -> Image:
    """A BGR image; ``FileNotFoundError`` naming the path when it cannot be read."""
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return np.asarray(image, dtype=np.uint8)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between ``a`` and ``b``."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def correct_chars(truth: str, read: PlateRead | None) -> tuple[int, int]:
    """(characters right, characters in the truth), letters and digits only."""
    want = compact(truth)
    got = compact(read.text) if read else ""
    return max(0, len(want) - edit_distance(want, got)), len(want)


def failure(reader: PlateReader, crop: Image, truth_rows: int) -> str:
    """Why a crop was not read exactly: ``detection`` (no text found, or fewer rows than the
    plate has), ``row split`` (more rows than it has) or ``misread`` (the rows are there but a
    character is wrong, or too unsure to be kept)."""
    rows = len(group_rows(reader.lines(crop)))
    if rows < truth_rows:
        return "detection"
    if rows > truth_rows:
        return "row split"
    return "misread"


def bench_crops(reader: PlateReader, labels: list[dict[str, str]], root: Path) -> dict[str, Any]:
    """Accuracy, failures and per-read latency on the plate crops."""
    rows = [row for row in labels if row["file"].startswith("crops/")]
    images = [load_image(root / row["file"]) for row in rows]
    reader.read(images[0])  # the first run allocates: not a read to time
    exact, right, total, millis = 0, 0, 0, []
    failures: dict[str, list[dict[str, Any]]] = {}
    for row, image in zip(rows, images, strict=True):
        start = time.perf_counter()
        read = reader.read(image)
        millis.append((time.perf_counter() - start) * 1000)
        ok, n = correct_chars(row["plate_text"], read)
        right, total = right + ok, total + n
        if read is not None and read.text == row["plate_text"]:
            exact += 1
            continue
        kind = failure(reader, image, int(row["rows"]))
        failures.setdefault(kind, []).append(
            {
                "file": row["file"],
                "truth": row["plate_text"],
                "read": read.text if read else None,
                "raw_lines": [r.text.text for r in reader.lines(image)],
            }
        )
    return {
        "crops": len(rows),
        "exact": exact,
        "crop_exact": round(exact / len(rows), 4),
        "crop_char": round(right / total, 4),
        "read_ms": millis,
        "failures": failures,
        "images": images,
    }


def reads_per_second(images: list[Image], workers: int) -> float:
    """Crops read per second by ``workers`` threads, each with its own one-thread reader."""
    readers = [PlateReader(threads=1) for _ in range(workers)]

    def run(index: int) -> None:
        for image in images[index::workers]:
            readers[index].read(image)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    return len(images) / (time.perf_counter() - start)


Box = tuple[int, int, int, int]


def vehicle_boxes(detector: Detector, frame: Image) -> list[Box]:
    """The frame's vehicle boxes (x0, y0, x1, y1), each grown by :data:`CROP_PAD`."""
    h, w = frame.shape[:2]
    boxes = []
    for x0, y0, x1, y1 in detector.detect([frame])[0].xyxy:
        px, py = (x1 - x0) * CROP_PAD, (y1 - y0) * CROP_PAD
        boxes.append(
            (max(0, int(x0 - px)), max(0, int(y0 - py)), min(w, int(x1 + px)), min(h, int(y1 + py)))
        )
    return boxes


def covered(plate: Box, boxes: list[Box]) -> bool:
    """Whether some box holds at least 80 % of the ``plate`` box (x0, y0, x1, y1)."""
    area = (plate[2] - plate[0]) * (plate[3] - plate[1])
    for x0, y0, x1, y1 in boxes:
        inter = max(0, min(x1, plate[2]) - max(x0, plate[0])) * max(
            0, min(y1, plate[3]) - max(y0, plate[1])
        )
        if inter >= 0.8 * area:
            return True
    return False


def plate_boxes(root: Path) -> dict[tuple[str, str], Box]:
    """The labelled plates' boxes in their frames, by (frame file, plate text)."""
    with (root / "frame_boxes.csv").open(encoding="utf-8") as handle:
        return {
            (row["file"], row["plate_text"]): (
                int(row["x"]),
                int(row["y"]),
                int(row["x"]) + int(row["w"]),
                int(row["y"]) + int(row["h"]),
            )
            for row in csv.DictReader(handle)
        }


def bench_frames(
    reader: PlateReader, labels: list[dict[str, str]], root: Path, model: Path, confidence: float
) -> dict[str, Any]:
    """Plates found on whole frames: vehicles by our detector (boxes scoring at least
    ``confidence``), then the reader on each. A missed plate is a ``vehicle detection`` miss
    when no vehicle box holds it, else a ``reader`` miss."""
    where = plate_boxes(root)
    by_frame: dict[str, list[str]] = {}
    for row in labels:
        if row["file"].startswith("frames/"):
            by_frame.setdefault(row["file"], []).append(row["plate_text"])
    backend = create_backend("onnxruntime", model, 2)
    found, vehicles, millis = 0, 0, []
    missed: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    try:
        classes = class_ids_for(VEHICLES, backend.class_names)
        detector = Detector(backend, confidence=confidence, classes=classes)
        for name, plates in sorted(by_frame.items()):
            frame = load_image(root / name)
            boxes = vehicle_boxes(detector, frame)
            vehicles += len(boxes)
            crops = [frame[y0:y1, x0:x1] for x0, y0, x1, y1 in boxes]
            reads = set()
            for crop in crops:
                start = time.perf_counter()
                read = reader.read(crop)
                millis.append((time.perf_counter() - start) * 1000)
                if read is not None:
                    reads.add(read.text)
            found += sum(plate in reads for plate in plates)
            missed += [
                {
                    "frame": name,
                    "plate": plate,
                    "cause": "reader"
                    if covered(where[name, plate], boxes)
                    else "vehicle detection",
                    "reads": sorted(reads),
                }
                for plate in plates
                if plate not in reads
            ]
            extra += [{"frame": name, "read": r} for r in sorted(reads - set(plates))]
    finally:
        backend.close()
    labelled = sum(len(p) for p in by_frame.values())
    return {
        "vehicle_confidence": confidence,
        "frames": len(by_frame),
        "labelled_plates": labelled,
        "vehicles_detected": vehicles,
        "found": found,
        "vehicle_read_ms_p50": round(float(np.percentile(millis, 50)), 1),
        "vehicle_read_ms_p95": round(float(np.percentile(millis, 95)), 1),
        "frame_exact": round(found / labelled, 4),
        "missed": missed,
        "unlabelled_reads": extra,
    }


def bench_main_stream(moments: int = 24) -> dict[str, Any]:
    """What ``plates.stream: record`` costs: the main-stream picture of a moment, from a
    1920x1080 25 fps H.264 segment with a 2 s GOP being recorded (the recorder's fragmented
    MP4, still ``.partial``), at random moments; against decoding that stream whole."""

    hold_s, fps = 2.0, 25
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        clip = photo_clip(folder / "main.mp4", hold_s=hold_s, fps=fps)
        recorder = SegmentRecorder("bench", folder / "rec", 3600.0, lambda _: None)
        with av.open(str(clip)) as source:
            stream = source.streams.video[0]
            for packet in source.demux(stream):
                if packet.dts is not None:
                    recorder.write(packet, stream)
        partial = next((folder / "rec").glob("bench/*/*.partial"))
        start = segment_start(partial)
        assert start is not None
        frames = MainStreamFrames(folder / "rec", wait_s=0.0)
        duration = hold_s * len(MOTORBIKE_FRAMES)
        rng = np.random.default_rng(7)
        millis, decoded = [], []
        for at in rng.uniform(0.0, duration - 0.5, moments).tolist():
            began = time.perf_counter()
            picture = frames.frame_at("bench", start + at)
            millis.append((time.perf_counter() - began) * 1000)
            assert picture is not None
            decoded.append(picture.decoded)
        began = time.perf_counter()
        with av.open(str(clip)) as source:
            whole = sum(1 for _ in source.decode(video=0))
        whole_ms = (time.perf_counter() - began) * 1000
        recorder.close()
    return {
        "stream": f"1920x1080 H.264, {fps} fps, GOP {hold_s:g} s",
        "main_picture_ms_p50": round(float(np.percentile(millis, 50)), 1),
        "main_picture_ms_p95": round(float(np.percentile(millis, 95)), 1),
        "main_frames_decoded_mean": round(float(np.mean(decoded)), 1),
        "whole_stream_decode_ms_per_s": round(whole_ms / (whole / fps), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=data_dir())
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--model", type=Path, default=model_path(), help="vehicle detector")
    parser.add_argument(
        "--vehicle-confidence", type=float, default=0.25, help="vehicle score floor (frames)"
    )
    args = parser.parse_args()
    if not (args.data / "labels.csv").is_file():
        sys.exit(f"plate data missing: {args.data}/labels.csv (set MATTHAN_SHARED)")
    with (args.data / "labels.csv").open(encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    reader = PlateReader(threads=1)
    crops = bench_crops(reader, labels, args.data)
    images, millis = crops.pop("images"), crops.pop("read_ms")
    rate = {f"{n}_threads": round(reads_per_second(images, n), 1) for n in (1, 2)}
    frames = bench_frames(reader, labels, args.data, args.model, args.vehicle_confidence)
    sweep = {
        str(c): bench_frames(reader, labels, args.data, args.model, c)["frame_exact"]
        for c in (0.1, 0.25, 0.35)
    }
    main_stream = bench_main_stream()
    failures = {kind: len(cases) for kind, cases in crops["failures"].items()}
    causes = [miss["cause"] for miss in frames["missed"]]
    summary = {
        "crop_exact": crops["crop_exact"],
        "crop_char": crops["crop_char"],
        "frame_exact": frames["frame_exact"],
        "read_ms_p50": round(float(np.percentile(millis, 50)), 1),
        "read_ms_p95": round(float(np.percentile(millis, 95)), 1),
        "reads_per_s": rate,
        "vehicle_confidence": args.vehicle_confidence,
        "frame_exact_by_vehicle_confidence": sweep,
        "crop_failures": failures,
        "frame_misses": {cause: causes.count(cause) for cause in sorted(set(causes))},
        "main_stream": main_stream,
    }
    report = {
        "benchmark": "plates",
        "machine": machine_info(),
        "command": " ".join(["python -m benchmarks.plates_bench", *sys.argv[1:]]),
        "reader": {
            "models": "PP-OCRv4 det + rec, from the rapidocr-onnxruntime wheel, onnxruntime",
            "threads": 1,
            "scale": 0.75,
        },
        "summary": summary,
        "crops": crops,
        "frames": frames,
    }
    write_report(args.out, "plates", report)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
