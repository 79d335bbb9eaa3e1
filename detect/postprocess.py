"""Decode raw YOLOv8 output into per-frame ``Detections``, as ultralytics' NMS does.

YOLOv8's head emits, for every image, ``4 + C`` rows over ``A`` anchor points
(8,400 for a 640x640 input): the box centre x, y, width and height in input pixels, then one
score per class, with no separate objectness score. For each image we

1. take each anchor's best class and its score, and keep anchors scoring above ``confidence``;
2. keep only the wanted ``classes`` (the test is on the best class, as in ultralytics);
3. run class-aware NMS (``cv2.dnn.NMSBoxesBatched``: boxes of different classes never
   suppress each other) and keep the ``max_det`` best boxes;
4. map the boxes from input pixels back to the source frame, clipped to it.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from detect.detections import Detections
from detect.errors import ModelFormatError
from detect.letterbox import LetterboxBatch


def decode(
    output: npt.NDArray[np.float32],
    batch: LetterboxBatch,
    *,
    confidence: float,
    iou: float,
    classes: frozenset[int] | None,
    max_det: int,
) -> list[Detections]:
    """Decode ``output`` (B, 4 + C, A) of a model run on ``batch`` into B ``Detections``.

    ``classes=None`` keeps every class. Boxes whose IoU with a better box of the same class
    exceeds ``iou`` are suppressed.
    """
    if output.ndim != 3 or output.shape[0] != len(batch) or output.shape[1] <= 4:
        raise ModelFormatError(
            f"expected model output of shape ({len(batch)}, 4 + classes, anchors), "
            f"got {output.shape}"
        )
    wanted = None if classes is None else np.fromiter(classes, np.int32, len(classes))
    return [
        _decode_one(
            output[i], batch, i, confidence=confidence, iou=iou, wanted=wanted, max_det=max_det
        )
        for i in range(len(batch))
    ]


def _decode_one(
    prediction: npt.NDArray[np.float32],
    batch: LetterboxBatch,
    index: int,
    *,
    confidence: float,
    iou: float,
    wanted: npt.NDArray[np.int32] | None,
    max_det: int,
) -> Detections:
    """Detections of one image from its (4 + C, A) prediction."""
    scores = prediction[4:]
    best = scores.max(axis=0)
    anchors = np.flatnonzero(best > confidence)  # usually a few dozen of the 8,400
    class_id = scores[:, anchors].argmax(axis=0).astype(np.int32)
    if wanted is not None:
        keep = np.isin(class_id, wanted)
        anchors, class_id = anchors[keep], class_id[keep]
    if not anchors.size:
        return Detections.empty()
    conf = best[anchors]
    cx, cy, w, h = prediction[:4, anchors].astype(np.float64)  # float64: OpenCV's Rect2d
    xywh = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    # OpenCV's stubs name only Python sequences, but the binding reads ndarrays directly.
    nms = cv2.dnn.NMSBoxesBatched(xywh, conf, class_id, confidence, iou)  # type: ignore[arg-type]
    kept = np.asarray(nms, np.intp)
    kept = kept.reshape(-1)[:max_det]  # best first; top_k would cut *before* NMS
    x1, y1, w, h = xywh[kept].T
    xyxy = np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)
    return Detections(
        xyxy=batch.to_source(index, xyxy),
        confidence=conf[kept],
        class_id=class_id[kept],
    )
