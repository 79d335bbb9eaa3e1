"""Ultralytics' own detections, for comparison with ours (run by tests/test_detect_reference.py).

Runs in the separate reference venv ``.venv-ref`` (``scripts/install --dev`` makes it), which has
ultralytics and torch; the project's venv has neither. Reads BGR uint8 frames from an ``.npz``
file (arrays ``f0``, ``f1``, ...; sizes may differ), runs
``YOLO(model).predict`` on them in batches of each size given by ``--batch`` (e.g. ``1 8``), and
writes to ``--out`` a JSON object that maps each batch size to one list per frame (ultralytics
prints notices of its own on stdout, so the result goes to a file)::

    {"8": [[[x1, y1, x2, y2, confidence, class_id], ...], ...]}
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from ultralytics import YOLO


def load_frames(path: str) -> list[np.ndarray]:
    with np.load(path) as archive:
        return [archive[f"f{i}"] for i in range(len(archive.files))]


def detect(
    model: YOLO, frames: list[np.ndarray], batch: int, args: argparse.Namespace
) -> list[list[list[float]]]:
    """One ``[x1, y1, x2, y2, confidence, class_id]`` list per frame, run ``batch`` at a time."""
    found = []
    for start in range(0, len(frames), batch):
        results = model.predict(
            frames[start : start + batch],
            imgsz=args.imgsz,
            conf=args.conf,
            iou=args.iou,
            device="cpu",
            verbose=False,
        )
        for result in results:
            boxes = result.boxes
            rows = np.concatenate(
                [boxes.xyxy.numpy(), boxes.conf.numpy()[:, None], boxes.cls.numpy()[:, None]],
                axis=1,
            )
            found.append(rows.round(3).tolist())
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--frames", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch", type=int, nargs="+", default=[1])
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--iou", type=float, default=0.45)
    args = parser.parse_args()
    model = YOLO(args.model)
    frames = load_frames(args.frames)
    found = {str(size): detect(model, frames, size, args) for size in args.batch}
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(found, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
