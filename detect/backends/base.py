"""What every inference backend offers, and the pieces the backends share.

A backend runs the network and nothing else: letterboxing and NMS live in ``detect`` so that
every runtime gives the same detections for the same frames.

A backend runs a batch in one of two ways:

* ``infer(batch)`` runs it and returns the output: simple, but the caller's thread idles while
  the model runs;
* ``start(batch)`` starts it and returns an :class:`InferenceJob` at once; ``job.wait()``
  later returns the same output. Up to ``backend.in_flight`` jobs may be running at a time, so
  the caller can pre-process the next batch and post-process the previous one while the cores
  run the model (:class:`detect.inference.InferenceQueue` keeps that bookkeeping in order).

A job holds one of the backend's ``in_flight`` slots (an OpenVINO infer request, say) from
``start`` until its ``wait`` returns or raises; ``start`` refuses to overcommit rather than
queue silently. A failure of the model on one batch is an :class:`InferenceError` raised by
that job's ``wait``, never by ``start``, so that errors come out in the order batches went in.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from detect.errors import DetectorError, ModelFormatError

Tensor = npt.NDArray[np.float32]
"""A model input (B, 3, H, W), RGB in 0..1, or a model output (B, 4 + classes, anchors)."""
SlotT = TypeVar("SlotT")


class InferenceError(DetectorError, RuntimeError):
    """The model failed on one batch (wrong shape, runtime error); the message names the
    batch's shape. The backend stays usable for other batches."""


def inference_failed(shape: tuple[int, ...], error: BaseException) -> InferenceError:
    """The :class:`InferenceError` for a batch of ``shape`` that failed with ``error``."""
    return InferenceError(f"inference of a batch of shape {shape} failed: {error}")


class InferenceJob(Protocol):
    """One batch started by :meth:`Backend.start`."""

    def done(self) -> bool:
        """Whether ``wait`` would return (or raise) without blocking."""
        ...

    def wait(self) -> Tensor:
        """Block until the batch is through; return its output, an array the caller owns.

        Raises :class:`InferenceError` if the model failed on the batch. Calling it again
        returns the same array (or raises the same error) without running anything.
        """
        ...

    @property
    def seconds(self) -> float:
        """Seconds from ``start`` to the end of inference; meaningful once ``wait`` returned."""
        ...


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

    @property
    def in_flight(self) -> int:
        """How many jobs may be started and not yet waited for at a time."""
        ...

    def infer(self, batch: Tensor) -> Tensor:
        """Run (B, 3, H, W) RGB 0..1 input; return a new (B, 4 + classes, anchors) array.

        Same as ``start(batch).wait()``: it needs a free slot too.
        """
        ...

    def start(self, batch: Tensor) -> InferenceJob:
        """Start ``batch`` and return without waiting. The backend reads ``batch`` in place
        until the job is waited for: do not modify it before then.

        Raises :class:`DetectorError` if ``in_flight`` jobs are already outstanding or the
        backend is closed.
        """
        ...

    def close(self) -> None:
        """Wait for running jobs, then release the runtime's memory and threads; ``infer`` and
        ``start`` must not be called afterwards (``wait`` on an earlier job still works)."""
        ...


class Slots(Generic[SlotT]):
    """The ``in_flight`` things (infer requests, worker turns) a backend lends to its jobs.

    ``take`` hands one out, ``give`` takes it back; taking from an empty pool is the caller's
    mistake (more jobs than ``in_flight`` not waited for) and raises :class:`DetectorError`.
    Used from one thread, like the backend.
    """

    def __init__(self, items: Iterable[SlotT], owner: str) -> None:
        self._free = deque(items)
        self._size = len(self._free)
        self._owner = owner
        if self._size < 1:
            raise ValueError(f"{owner}: in_flight must be >= 1")

    @property
    def size(self) -> int:
        """How many slots there are in all."""
        return self._size

    def take(self) -> SlotT:
        """A free slot; raises ``DetectorError`` if every one is lent out."""
        if not self._free:
            raise DetectorError(
                f"{self._owner}: all {self._size} in-flight slots are busy; "
                "wait for a job before starting another"
            )
        return self._free.popleft()

    def give(self, item: SlotT) -> None:
        """Return ``item`` (taken earlier) to the pool."""
        self._free.append(item)


def check_counts(threads: int, in_flight: int) -> None:
    """ValueError unless ``threads`` >= 0 (0: all cores) and ``in_flight`` >= 1."""
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    if in_flight < 1:
        raise ValueError(f"in_flight must be >= 1, got {in_flight}")


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
