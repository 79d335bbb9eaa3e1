"""Letterbox a batch of camera frames into one model input tensor, and map boxes back.

YOLO wants an RGB float tensor (values 0..1) whose height and width are multiples of the
network stride, 32. A *letterbox* scales each frame to fit, keeping its aspect ratio, and
fills the rest with grey 114. We follow ultralytics' ``LetterBox`` exactly, so that detections
match ``YOLO.predict`` on the same batch:

* If every frame of the batch has the same shape, the batch uses the *minimum rectangle*: the
  long side becomes ``imgsz`` and the short side is padded only up to the next multiple of 32
  (768x576 -> 640x480, 1280x720 -> 640x384). A 16:9 frame then costs ~40% fewer pixels than
  the square.
* Otherwise every frame is letterboxed into an ``imgsz`` x ``imgsz`` square.

The scale is ``min(imgsz / h, imgsz / w)``, the resized size is rounded with Python's
``round``, resizing uses ``cv2.INTER_LINEAR``, and the padding is centred with ultralytics'
``round(d/2 - 0.1)`` before / ``round(d/2 + 0.1)`` after rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

STRIDE = 32
"""YOLO's largest downsampling factor: input sides must be multiples of it."""
PAD_VALUE = 114
"""Grey level of the padding, as in ultralytics' training."""


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where one source frame of ``source_hw`` lands in an input image of ``input_hw``."""

    source_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    top: int
    left: int
    input_hw: tuple[int, int]


def _place(source_hw: tuple[int, int], imgsz: int, minimum_rectangle: bool) -> _Placement:
    """Ultralytics' ``LetterBox`` geometry for one frame (``auto=minimum_rectangle``)."""
    h, w = source_hw
    ratio = min(imgsz / h, imgsz / w)
    new_h, new_w = round(h * ratio), round(w * ratio)
    pad_h, pad_w = imgsz - new_h, imgsz - new_w
    if minimum_rectangle:
        pad_h, pad_w = pad_h % STRIDE, pad_w % STRIDE
    top, left = round(pad_h / 2 - 0.1), round(pad_w / 2 - 0.1)
    return _Placement(source_hw, (new_h, new_w), top, left, (new_h + pad_h, new_w + pad_w))


@dataclass(frozen=True, slots=True, eq=False)
class LetterboxBatch:
    """A letterboxed batch: the model input plus what is needed to undo the letterbox."""

    tensor: npt.NDArray[np.float32]
    """(B, 3, H, W) RGB in 0..1: the model input."""
    scale: npt.NDArray[np.float32]
    """(B, 2) input pixels per source pixel along x and y (resized size / source size)."""
    pad: npt.NDArray[np.float32]
    """(B, 2) left and top padding in input pixels."""
    source_wh: npt.NDArray[np.float32]
    """(B, 2) width and height of each source frame."""

    def __len__(self) -> int:
        return len(self.tensor)

    def to_source(self, index: int, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map (N, 4) boxes in input pixels of frame ``index`` to its source pixels, clipped."""
        scale = np.tile(self.scale[index], 2)
        pad = np.tile(self.pad[index], 2)
        size = np.tile(self.source_wh[index], 2)
        source: npt.NDArray[np.float32] = np.clip((xyxy - pad) / scale, 0, size)
        return source


def check_imgsz(imgsz: int) -> None:
    """Raise ValueError unless ``imgsz`` is a positive multiple of ``STRIDE``."""
    if imgsz <= 0 or imgsz % STRIDE:
        raise ValueError(f"imgsz must be a positive multiple of {STRIDE}, got {imgsz}")


def letterbox(frames: Sequence[npt.NDArray[np.uint8]], imgsz: int = 640) -> LetterboxBatch:
    """Letterbox BGR uint8 ``frames`` (each H x W x 3, at least one) into one batch for ``imgsz``.

    For a batch of 8 frames of 768x576 this costs ~12 ms on a 2-vCPU Xeon (resize ~5 ms, colour
    and layout conversion ~7 ms). Reusing preallocated buffers saved only ~0.5 ms of that, so every
    call allocates and the returned batch owns its tensor.
    """
    check_imgsz(imgsz)
    if not frames:
        raise ValueError("cannot letterbox an empty batch")
    shapes = [_source_hw(i, frame) for i, frame in enumerate(frames)]
    same = len(set(shapes)) == 1
    layout = [_place(shape, imgsz, minimum_rectangle=same) for shape in shapes]
    height, width = layout[0].input_hw  # one size for all: same-shape rectangles, or squares
    canvas = np.full((len(frames), height, width, 3), PAD_VALUE, np.uint8)
    for frame, image, p in zip(frames, canvas, layout, strict=True):
        (new_h, new_w), top, left = p.resized_hw, p.top, p.left
        inner = image[top : top + new_h, left : left + new_w]
        if p.resized_hw == p.source_hw:
            inner[...] = frame
        else:  # cv2 writes straight into the strided view of the canvas
            cv2.resize(frame, (new_w, new_h), dst=inner, interpolation=cv2.INTER_LINEAR)
    # BGR HWC uint8 -> RGB CHW float in one pass.
    tensor = np.divide(canvas[..., ::-1].transpose(0, 3, 1, 2), np.float32(255), dtype=np.float32)
    resized = np.array([p.resized_hw[::-1] for p in layout], np.float32)
    source = np.array([p.source_hw[::-1] for p in layout], np.float32)
    return LetterboxBatch(
        tensor=tensor,
        scale=resized / source,
        pad=np.array([(p.left, p.top) for p in layout], np.float32),
        source_wh=source,
    )


def _source_hw(index: int, frame: npt.NDArray[np.uint8]) -> tuple[int, int]:
    """(height, width) of a BGR uint8 frame, or ValueError saying which frame is wrong."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or not frame.size:
        raise ValueError(
            f"frame {index} must be a non-empty H x W x 3 uint8 BGR image, "
            f"got {frame.dtype} {frame.shape}"
        )
    return frame.shape[0], frame.shape[1]
