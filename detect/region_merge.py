"""One set of detections per frame out of overlapping regions.

Regions overlap, so one object may be found twice: whole in two regions (nearly the same box),
or whole in one and cut by the edge of another (a partial box inside the whole one). The merge

1. drops each *cut* box that lies mostly (:data:`CUT_INSIDE_SHARE`) inside a whole box of the
   same class: the whole box already tells where the object is;
2. runs class-aware NMS over what is left, as the model's own post-processing does, so that two
   sightings of one object become one (the more confident), and a class-agnostic one at a high
   overlap (:data:`SAME_OBJECT_IOU`) for one object named differently by two regions;
3. says which of the surviving boxes are still cut: they are looked at again in a larger region.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from detect.detections import Detections

CUT_INSIDE_SHARE = 0.5
SAME_OBJECT_IOU = 0.8
"""Boxes of different classes overlapping this much are one object named twice: a parked van
seen as a car in one region and as a truck in another (each region sees it at its own scale).
Left as two, they become two tracks; whichever class a later look says, the other track
starves, is dropped and comes back as a new track, and a rule alerts again."""


def concat(parts: list[Detections]) -> Detections:
    """All rows of ``parts`` in one ``Detections`` (untracked)."""
    if not parts:
        return Detections.empty()
    return Detections(
        xyxy=np.concatenate([p.xyxy for p in parts]).astype(np.float32),
        confidence=np.concatenate([p.confidence for p in parts]).astype(np.float32),
        class_id=np.concatenate([p.class_id for p in parts]).astype(np.int32),
    )


def _inside_share(small: npt.NDArray[np.float32], large: npt.NDArray[np.float32]) -> float:
    x1, y1 = max(small[0], large[0]), max(small[1], large[1])
    x2, y2 = min(small[2], large[2]), min(small[3], large[3])
    inner = max(0.0, float(x2 - x1)) * max(0.0, float(y2 - y1))
    area = max(1e-6, float((small[2] - small[0]) * (small[3] - small[1])))
    return inner / area


def merge(
    detections: Detections, cut: npt.NDArray[np.bool_], iou: float
) -> tuple[Detections, npt.NDArray[np.bool_]]:
    """The merged detections of one frame (best first) and which of them are cut."""
    if len(detections) == 0:
        return detections, cut
    keep = np.ones(len(detections), np.bool_)
    whole = np.flatnonzero(~cut)
    for row in np.flatnonzero(cut).tolist():
        same = whole[detections.class_id[whole] == detections.class_id[row]]
        if any(
            _inside_share(detections.xyxy[row], detections.xyxy[other]) >= CUT_INSIDE_SHARE
            for other in same.tolist()
        ):
            keep[row] = False
    detections, cut = detections.filter(keep), cut[keep]
    if len(detections) < 2:
        return detections, cut
    mask = _nms(detections, iou, agnostic=False) & _nms(detections, SAME_OBJECT_IOU, agnostic=True)
    return detections.filter(mask), cut[mask]


def _nms(detections: Detections, iou: float, *, agnostic: bool) -> npt.NDArray[np.bool_]:
    """Which rows survive non-maximum suppression at ``iou`` (per class unless ``agnostic``)."""
    x1, y1, x2, y2 = detections.xyxy.astype(np.float64).T
    xywh = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    classes = np.zeros_like(detections.class_id) if agnostic else detections.class_id
    kept = np.asarray(
        cv2.dnn.NMSBoxesBatched(
            xywh,  # type: ignore[arg-type]
            detections.confidence,  # type: ignore[arg-type]
            classes,  # type: ignore[arg-type]
            0.0,
            iou,
        ),
        np.intp,
    ).reshape(-1)
    mask = np.zeros(len(detections), np.bool_)
    mask[kept] = True
    return mask
