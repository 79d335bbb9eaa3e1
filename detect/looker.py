"""Frames and their looks -> model batches -> one set of detections per frame.

The live core, the re-analysis runner and the benchmarks all go through this module, so the
model sees the same pixels whichever of them asks.

* :meth:`Looker.pack` turns frames with their :class:`~detect.looks.Look` into model batches: in
  ``regions`` mode every crop of every frame has one shape (``region_size`` squared), so crops of
  all cameras form one batch; in ``frame`` mode frames of one size form a batch (their minimum
  letterbox rectangle).
* :meth:`Looker.unpack` maps each batch's output back to frame pixels, per frame.
* :class:`FrameLook` gathers the parts of one frame. When all are in, :meth:`FrameLook.result`
  merges them (:mod:`detect.region_merge`); an object cut by a region's edge asks for a second,
  larger region (:meth:`FrameLook.follow_up`), looked at once before the frame goes on.

:func:`look_now` does all of it synchronously, for callers that do not overlap batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from common.frame_ring import Frame
from detect.detections import Detections
from detect.detector import Detector
from detect.letterbox import LetterboxBatch
from detect.looks import Look, LookKind
from detect.region_merge import concat, merge
from detect.regions import Region, crop_regions, cut_by_edge, enlarged, to_frame


@dataclass(slots=True, eq=False)
class FrameLook:
    """One frame on its way through the model: its look and the detections found so far."""

    image: Frame
    look: Look
    parts: list[Detections] = field(default_factory=list)
    cuts: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    waiting: int = 0
    """Batches holding a part of this frame that have not come back yet."""
    followed_up: bool = False

    @property
    def ready(self) -> bool:
        return self.waiting == 0

    def add(self, detections: Detections, cut: npt.NDArray[np.bool_]) -> None:
        self.parts.append(detections)
        self.cuts.append(cut)

    def result(self, iou: float) -> tuple[Detections, npt.NDArray[np.bool_]]:
        """The merged detections of every part, and which are still cut by a region's edge."""
        cut = np.concatenate(self.cuts) if self.cuts else np.zeros(0, np.bool_)
        return merge(concat(self.parts), cut, iou)

    def follow_up(self, iou: float) -> list[Region]:
        """Larger regions for the objects cut by an edge, once per frame (none if none is cut)."""
        if self.followed_up or self.look.kind == LookKind.FRAME:
            return []
        merged, cut = self.result(iou)
        height, width = self.image.shape[:2]
        regions = {enlarged(box, self._region_of(box), width, height) for box in merged.xyxy[cut]}
        self.followed_up = bool(regions)
        return sorted(regions, key=lambda r: (r.y, r.x, r.side))

    def _region_of(self, box: npt.NDArray[np.float32]) -> Region:
        """The looked-at region holding most of ``box`` (the one that cut it)."""
        boxes = box[None, :]
        shares = [(r.contains(boxes, 0.5)[0], r.side) for r in self.look.regions]
        best = max(range(len(shares)), key=lambda i: shares[i]) if shares else 0
        return self.look.regions[best] if self.look.regions else Region(0, 0, 0)


@dataclass(frozen=True, slots=True)
class _Part:
    """Rows of a model batch that belong to one frame: a crop of ``region`` or the frame."""

    frame: FrameLook
    region: Region | None


@dataclass(frozen=True, slots=True, eq=False)
class ModelBatch:
    """One model input and what each of its rows is."""

    batch: LetterboxBatch
    parts: tuple[_Part, ...]

    @property
    def tensor(self) -> npt.NDArray[np.float32]:
        return self.batch.tensor

    def __len__(self) -> int:
        return len(self.parts)


class Looker:
    """Packs looks into model batches for ``detector`` and unpacks its output."""

    def __init__(self, detector: Detector, region_size: int) -> None:
        self.detector = detector
        self.region_size = region_size

    def pack(self, frames: Sequence[FrameLook]) -> list[ModelBatch]:
        """Model batches for the looks of ``frames`` (frames that look nowhere add none)."""
        crops: list[npt.NDArray[np.uint8]] = []
        crop_parts: list[_Part] = []
        by_size: dict[tuple[int, int], list[FrameLook]] = {}
        for frame in frames:
            if frame.look.kind == LookKind.FRAME:
                by_size.setdefault(frame.image.shape[:2], []).append(frame)
            elif frame.look.regions:
                crops.extend(crop_regions(frame.image, list(frame.look.regions), self.region_size))
                crop_parts += [_Part(frame, region) for region in frame.look.regions]
        batches = [
            self._batch([f.image for f in group], [_Part(f, None) for f in group])
            for group in by_size.values()
        ]
        if crops:
            batches.append(self._batch(crops, crop_parts))
        return batches

    def pack_regions(self, frame: FrameLook, regions: list[Region]) -> ModelBatch:
        """A batch of extra regions of one frame (a follow-up look)."""
        crops = crop_regions(frame.image, regions, self.region_size)
        return self._batch(list(crops), [_Part(frame, region) for region in regions])

    def _batch(self, images: Sequence[npt.NDArray[np.uint8]], parts: list[_Part]) -> ModelBatch:
        for part in parts:
            part.frame.waiting += 1
        return ModelBatch(self.detector.prepare(images), tuple(parts))

    def unpack(self, batch: ModelBatch, output: npt.NDArray[np.float32]) -> list[FrameLook]:
        """Hand each frame its part of ``output``; returns the frames now complete."""
        found = self.detector.decode(output, batch.batch)
        size = self.region_size
        done: list[FrameLook] = []
        for part, detections in zip(batch.parts, found, strict=True):
            frame = part.frame
            height, width = frame.image.shape[:2]
            if part.region is None:
                frame.add(detections, np.zeros(len(detections), np.bool_))
            else:
                cut = cut_by_edge(detections.xyxy, part.region, size, width, height)
                xyxy = to_frame(detections.xyxy, part.region, size, width, height)
                frame.add(Detections(xyxy, detections.confidence, detections.class_id), cut)
            frame.waiting -= 1
            if frame.ready and frame not in done:
                done.append(frame)
        return done


def look_now(looker: Looker, frames: Sequence[FrameLook]) -> list[Detections]:
    """Every frame's merged detections, one model call after another (follow-ups included)."""
    iou = looker.detector.iou
    for batch in looker.pack(frames):
        looker.unpack(batch, looker.detector.infer(batch.tensor))
    for frame in frames:
        regions = frame.follow_up(iou)
        if regions:
            batch = looker.pack_regions(frame, regions)
            looker.unpack(batch, looker.detector.infer(batch.tensor))
    return [frame.result(iou)[0] for frame in frames]
