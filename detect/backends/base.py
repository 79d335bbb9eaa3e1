"""What every inference backend offers, and the model metadata they share.

A backend runs the network and nothing else: letterboxing and NMS live in ``detect`` so that
every runtime gives the same detections for the same frames.
"""

from __future__ import annotations

import ast
from typing import Protocol

import numpy as np
import numpy.typing as npt

from detect.errors import ModelFormatError


class Backend(Protocol):
    """A loaded model that maps an input batch to raw YOLO output."""

    @property
    def name(self) -> str:
        """Short runtime name, e.g. ``"openvino"``."""
        ...

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in class-id order, read from the model file."""
        ...

    def infer(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run (B, 3, H, W) RGB 0..1 input; return a new (B, 4 + classes, anchors) array."""
        ...

    def close(self) -> None:
        """Release the runtime's memory and threads; ``infer`` must not be called afterwards."""
        ...


def parse_class_names(names: str) -> tuple[str, ...]:
    """Parse ultralytics' ``names`` metadata, a Python dict literal like ``"{0: 'person'}"``.

    ``ast.literal_eval`` reads literals only, so a crafted model file cannot run code here.
    """
    try:
        parsed = ast.literal_eval(names)
    except (ValueError, SyntaxError) as error:
        raise ModelFormatError(f"model metadata 'names' is not a dict literal: {error}") from error
    if (
        not isinstance(parsed, dict)
        or set(parsed) != set(range(len(parsed)))
        or not all(isinstance(name, str) for name in parsed.values())
    ):
        raise ModelFormatError("model metadata 'names' must map 0..N-1 to class-name strings")
    return tuple(parsed[i] for i in range(len(parsed)))
