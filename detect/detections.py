"""``Detections``: the boxes found in one frame, stored as a struct of arrays.

Like ``supervision.Detections``, each field is one NumPy array with one row per box, so that
filtering, tracking and zone tests work on whole arrays instead of Python loops::

    people = dets.filter(dets.class_id == 0)
    feet = people.anchors_bottom_center()      # (N, 2): where each person stands

Coordinates are pixels of the *source* frame (not of the letterboxed model input).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt


def _check(name: str, array: Any, dtype: type[np.generic], shape: tuple[int | None, ...]) -> None:
    """Raise ValueError naming ``name`` unless ``array`` is an ndarray of ``dtype`` and ``shape``.

    ``None`` in ``shape`` accepts any length on that axis.
    """
    if not isinstance(array, np.ndarray):
        raise ValueError(f"Detections.{name} must be a numpy array, got {type(array).__name__}")
    if array.dtype != dtype:
        raise ValueError(f"Detections.{name} must have dtype {np.dtype(dtype)}, got {array.dtype}")
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        expected = "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"
        raise ValueError(f"Detections.{name} must have shape {expected}, got {array.shape}")


@dataclass(frozen=True, slots=True, eq=False)
class Detections:
    """Boxes of one frame: row ``i`` of every array describes detection ``i``.

    ``eq=False``: comparing two instances with ``==`` would compare arrays element-wise, which
    has no single truth value, so instances compare by identity instead.
    """

    xyxy: npt.NDArray[np.float32]
    """(N, 4) corners x1, y1, x2, y2 in source-frame pixels."""
    confidence: npt.NDArray[np.float32]
    """(N,) class score in 0..1."""
    class_id: npt.NDArray[np.int32]
    """(N,) index into the model's class names (COCO: 0 person, 2 car, ...)."""
    tracker_id: npt.NDArray[np.int64] | None = None
    """(N,) track ids once a tracker has run, else None."""

    def __post_init__(self) -> None:
        _check("xyxy", self.xyxy, np.float32, (None, 4))
        n = len(self.xyxy)
        _check("confidence", self.confidence, np.float32, (n,))
        _check("class_id", self.class_id, np.int32, (n,))
        if self.tracker_id is not None:
            _check("tracker_id", self.tracker_id, np.int64, (n,))

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> Detections:
        """No detections (what a frame without objects gives)."""
        return cls(
            xyxy=np.empty((0, 4), np.float32),
            confidence=np.empty(0, np.float32),
            class_id=np.empty(0, np.int32),
        )

    def filter(self, mask: npt.NDArray[np.bool_]) -> Detections:
        """The detections where the boolean ``mask`` (shape (N,)) is True."""
        if mask.dtype != np.bool_ or mask.shape != (len(self),):
            raise ValueError(
                f"filter mask must be a bool array of shape ({len(self)},), "
                f"got {mask.dtype} {mask.shape}"
            )
        return Detections(
            xyxy=self.xyxy[mask],
            confidence=self.confidence[mask],
            class_id=self.class_id[mask],
            tracker_id=None if self.tracker_id is None else self.tracker_id[mask],
        )

    def with_tracker_ids(self, tracker_id: npt.NDArray[np.int64]) -> Detections:
        """A copy carrying ``tracker_id`` (shape (N,), int64); the boxes are shared, not copied."""
        return replace(self, tracker_id=tracker_id)

    def anchors_bottom_center(self) -> npt.NDArray[np.float32]:
        """(N, 2) the middle of each box's bottom edge: a person's feet, a car's road contact.

        Zone and line tests use this point because it lies on the ground plane.
        """
        x1, _, x2, y2 = self.xyxy.T
        return np.stack([(x1 + x2) * np.float32(0.5), y2], axis=1)
