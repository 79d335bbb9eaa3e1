"""``Detector``: frames in, ``Detections`` out (letterbox -> backend -> decode).

Typical use::

    backend = create_backend("openvino", Path("models/yolov8n.onnx"), threads=2)
    people_and_vehicles = class_ids_for(["person", "car", "bus", "truck"], backend.class_names)
    detector = Detector(backend, imgsz=640, classes=people_and_vehicles)
    for frame, dets in zip(frames, detector.detect(frames)):
        ...

Pass frames of one camera (or of cameras with the same resolution) together: a batch of equal
shapes uses the minimum letterbox rectangle, which is cheaper than the square that a mixed
batch needs, and batching raises throughput on most backends.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from detect.backends.base import Backend
from detect.detections import Detections
from detect.letterbox import LetterboxBatch, check_imgsz, letterbox
from detect.postprocess import decode


def class_ids_for(names: Iterable[str], class_names: Sequence[str]) -> frozenset[int]:
    """The ids of the classes called ``names``; ValueError naming any unknown name."""
    ids = {name: i for i, name in enumerate(class_names)}
    wanted = list(names)  # ``names`` may be a one-shot iterator
    unknown = [name for name in wanted if name not in ids]
    if unknown:
        raise ValueError(f"unknown class name(s) {unknown}; the model knows {list(class_names)}")
    return frozenset(ids[name] for name in wanted)


class Detector:
    """Runs a YOLO ``backend`` on batches of BGR frames, as ``ultralytics.YOLO.predict`` would.

    ``confidence`` is the minimum class score, ``iou`` the NMS overlap above which the weaker
    of two same-class boxes is dropped, ``classes`` the class ids to keep (None: all) and
    ``max_det`` the most boxes returned per frame. The caller owns ``backend`` and closes it.
    Call ``detect`` from one thread at a time: the OpenVINO backend has a single infer request.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        imgsz: int = 640,
        confidence: float = 0.25,
        iou: float = 0.45,
        classes: Collection[int] | None = None,
        max_det: int = 300,
    ) -> None:
        if not 0.0 <= confidence < 1.0:
            raise ValueError(f"confidence must be in [0, 1), got {confidence}")
        if not 0.0 < iou <= 1.0:
            raise ValueError(f"iou must be in (0, 1], got {iou}")
        check_imgsz(imgsz)
        if max_det < 1:
            raise ValueError(f"max_det must be >= 1, got {max_det}")
        n_classes = len(backend.class_names)
        if classes is not None and not all(0 <= c < n_classes for c in classes):
            raise ValueError(f"classes {sorted(classes)} must lie in 0..{n_classes - 1}")
        self._backend = backend
        self._imgsz = imgsz
        self._confidence = confidence
        self._iou = iou
        self._classes = None if classes is None else frozenset(classes)
        self._max_det = max_det

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names of the model, indexed by ``Detections.class_id``."""
        return self._backend.class_names

    @property
    def backend(self) -> Backend:
        """The runtime the model runs on (for callers that start batches asynchronously)."""
        return self._backend

    @property
    def iou(self) -> float:
        """The NMS overlap above which the weaker of two same-class boxes is dropped."""
        return self._iou

    def detect(self, frames: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        """Detect objects in ``frames`` (BGR uint8, H x W x 3), run as one batch.

        Returns one ``Detections`` per frame, in order, in that frame's pixels.
        """
        if not frames:
            return []
        batch = self.prepare(frames)
        return self.decode(self.infer(batch.tensor), batch)

    def prepare(self, frames: Sequence[npt.NDArray[np.uint8]]) -> LetterboxBatch:
        """The model input for ``frames`` (at least one); :meth:`decode` reads its output."""
        return letterbox(frames, self._imgsz)

    def infer(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run the model on a prepared tensor, synchronously."""
        return self._backend.infer(tensor)

    def decode(self, output: npt.NDArray[np.float32], batch: LetterboxBatch) -> list[Detections]:
        """One ``Detections`` per frame of ``batch`` from the model's ``output``."""
        return decode(
            output,
            batch,
            confidence=self._confidence,
            iou=self._iou,
            classes=self._classes,
            max_det=self._max_det,
        )
