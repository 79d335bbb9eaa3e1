"""onnxruntime backend: the portable reference runtime (fp32 on any CPU).

Slower than OpenVINO on Intel CPUs, but it runs anywhere onnxruntime has wheels and gives an
independent check of the OpenVINO results. Worker threads do not spin while waiting
(``allow_spinning=0``): spinning threads burn the cores that decoding needs and made timings
noisy under contention.

onnxruntime has no asynchronous API, but ``InferenceSession.run`` releases the GIL and may be
called from several threads at once. With ``in_flight`` > 1, ``start`` hands the run to a pool
of ``in_flight`` worker threads, so up to ``in_flight`` batches run side by side (each on the
session's ``threads`` intra-op threads); with ``in_flight`` == 1 it runs the batch at once, in
the caller's thread, and returns a finished job.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import onnxruntime as ort

from detect.backends.base import (
    InferenceError,
    Slots,
    Tensor,
    check_counts,
    inference_failed,
    parse_class_names,
)
from detect.errors import DetectorError, ModelFormatError

Finished = tuple[Tensor, float]
"""A run's output and the ``time.perf_counter()`` at which it ended."""


class OnnxRuntimeJob:
    """One batch run by the session, now or on a worker thread (:class:`InferenceJob`)."""

    __slots__ = ("_error", "_future", "_output", "_release", "_seconds", "_shape", "_started")

    def __init__(
        self, future: Future[Finished], shape: tuple[int, ...], started: float, release: Slots[int]
    ) -> None:
        self._future: Future[Finished] | None = future
        self._shape = shape
        self._started = started
        self._release = release
        self._output: Tensor | None = None
        self._error: InferenceError | None = None
        self._seconds = 0.0

    @property
    def seconds(self) -> float:
        """Seconds from ``start`` until the run ended."""
        return self._seconds

    def done(self) -> bool:
        """Whether the run has ended, successfully or not."""
        return self._future is None or self._future.done()

    def wait(self) -> Tensor:
        """The batch's output (B, 4 + classes, anchors); see :meth:`InferenceJob.wait`."""
        if self._future is not None:
            self._settle(self._future)
        if self._error is not None:
            raise self._error
        assert self._output is not None
        return self._output

    def _settle(self, future: Future[Finished]) -> None:
        try:
            self._output, ended = future.result()
            self._seconds = ended - self._started
        except Exception as error:  # onnxruntime raises its own exception types
            self._error = inference_failed(self._shape, error)
            self._error.__cause__ = error
        self._future = None
        self._release.give(0)


class OnnxRuntimeBackend:
    """Runs an ONNX YOLO model with onnxruntime's CPU execution provider.

    ``threads`` sets ``intra_op_num_threads`` (0 lets onnxruntime use every core);
    ``in_flight`` is how many batches may run at once. Use it from one thread.
    """

    name = "onnxruntime"

    def __init__(self, model_path: Path, threads: int, in_flight: int = 1) -> None:
        check_counts(threads, in_flight)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # the graph is a chain: nothing to run in parallel
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        metadata = session.get_modelmeta().custom_metadata_map
        if "names" not in metadata:
            raise ModelFormatError(f"{model_path} has no 'names' metadata")
        self.class_names = parse_class_names(metadata["names"])
        self._input = session.get_inputs()[0].name
        self._session: ort.InferenceSession | None = session
        self._slots = Slots([0] * in_flight, "OnnxRuntimeBackend")
        self._workers = (
            ThreadPoolExecutor(in_flight, thread_name_prefix="onnxruntime")
            if in_flight > 1
            else None
        )

    @property
    def in_flight(self) -> int:
        """How many batches may run at once."""
        return self._slots.size

    def start(self, batch: Tensor) -> OnnxRuntimeJob:
        """Start ``batch`` (B, 3, H, W; H and W multiples of 32); with ``in_flight`` == 1 it
        has run when this returns."""
        if self._session is None:
            raise DetectorError("OnnxRuntimeBackend.start called after close()")
        self._slots.take()
        started = time.perf_counter()
        if self._workers is not None:
            future = self._workers.submit(self._run, self._session, batch)
        else:
            future = Future()
            try:
                future.set_result(self._run(self._session, batch))
            except Exception as error:  # kept for wait(), like a worker's error
                future.set_exception(error)
        return OnnxRuntimeJob(future, batch.shape, started, self._slots)

    def infer(self, batch: Tensor) -> Tensor:
        """Run ``batch`` (B, 3, H, W); H and W must be multiples of 32."""
        return self.start(batch).wait()

    def close(self) -> None:
        """Wait for running batches, stop the workers and drop the session; onnxruntime frees
        it with the last reference."""
        if self._workers is not None:
            self._workers.shutdown(wait=True)
        self._session = None

    def _run(self, session: ort.InferenceSession, batch: Tensor) -> Finished:
        """Run one batch (in a worker thread when ``in_flight`` > 1)."""
        output: Tensor = session.run(None, {self._input: batch})[0]
        return output, time.perf_counter()
