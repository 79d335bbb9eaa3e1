"""OpenVINO backend: the fastest CPU runtime for YOLO on Intel CPUs.

It loads the ONNX file directly (no conversion step) or an OpenVINO IR (``.xml`` + ``.bin``),
such as the int8 model ``matthan quantize`` makes (:mod:`detect.quantize`). On CPUs with AMX
an fp32 model runs in bf16 by default, about 3x faster than fp32; elsewhere it runs fp32, and
the int8 IR uses VNNI (or AMX) int8 instructions.

Requests and streams (:func:`compile_config`):

* ``in_flight`` 1: ``PERFORMANCE_HINT=LATENCY``, one stream whose ``threads`` threads split every
  layer between them, and one infer request. ``start`` still runs it asynchronously, so the
  caller can letterbox the next batch meanwhile.
* ``in_flight`` N > 1: ``PERFORMANCE_HINT=THROUGHPUT``, ``NUM_STREAMS`` N and N infer requests.
  Each batch runs whole on its own stream, so a thread that loses its core to a decoder delays
  one batch instead of stalling both threads at every layer. A stream needs a thread of its
  own: with ``threads`` below N, OpenVINO would quietly make fewer streams, so we ask for
  ``min(N, threads)`` streams; the extra requests then queue on them (still no idle gap between
  batches).

Measured on this CPU (AMD EPYC, 2 vCPUs, AVX-512 VNNI, no AMX; 2026-12-07), int8 yolov8n,
batches of four 320x320 crops, letterbox + inference + NMS, images/s, median of 15 interleaved
rounds (``python -m benchmarks.detector_bench --backends openvino --models yolov8n-int8.xml
--batches 4 --sizes 320 --threads 1 2 --in-flight 0 1 2 --square --repeats 15 --laps 2
[--decode-load 1]``; "sync" is ``Detector.detect``, the other rows go through
:class:`detect.inference.InferenceQueue`; two runs each with the load, one without; other
engineers' jobs shared the machine, so only ratios within a run are firm):

=========================  ======  ====================================================
threads, in flight         alone   beside a process decoding the PETS clip (one core)
=========================  ======  ====================================================
1, sync                    102     93, 96
1, 1                       107     100, 101
1, 2 (one stream)          113     103, 104
2, sync (today)            149     75, 84
2, 1                       151     84, 91
2, 2 (two streams)         161     147, 139 (1.77x, 1.68x today's, round by round)
=========================  ======  ====================================================

Alone, two streams gain only 4% over one LATENCY request; beside a busy decoder, the LATENCY
request's two threads wait on each other at every layer and lose about half their rate, while
two single-thread streams keep about 90% of theirs (a third run, with other jobs on the machine
too, still gave 1.55x today's rate round by round). Defaults: ``in_flight`` 2 with
``threads`` 2; with ``threads`` 1, ``in_flight`` 2 is one stream and gains only the overlap.

Other choices, measured earlier on a 2-vCPU Xeon without AMX (AVX-512 VNNI), yolov8n, fp32 and
int8:

* One compile with the model's dynamic batch/height/width. Compiling one static model per
  input shape was no faster with 1 thread (fp32 or int8) and 0-10% faster for int8 with 2,
  but costs 250-400 ms per new shape (a partial batch is a new shape) and a copy of the compiled
  model in memory for each. The dynamic model pays ~20-50 ms extra only on the first call with
  each new shape.
* OpenVINO's other CPU knobs are left at their defaults: ``ENABLE_CPU_PINNING`` off or on,
  ``CPU_DENORMALS_OPTIMIZATION`` on or off changed int8 or fp32 rates by less than the noise
  (±10%), also beside a busy process on the other core. ``INFERENCE_PRECISION_HINT`` matters
  only on AMX (bf16) CPUs.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import openvino as ov

from detect.backends.base import (
    InferenceError,
    Slots,
    Tensor,
    check_counts,
    inference_failed,
    parse_class_names,
)
from detect.errors import DetectorError, ModelFormatError

NAMES_KEY = ("framework", "names")
"""Where the ONNX import puts ultralytics' ``names`` metadata in the model's rt_info; an IR
saved from such a model (``matthan quantize``) keeps it there."""


def compile_config(threads: int, in_flight: int) -> dict[str, Any]:
    """The CPU plugin's settings for ``threads`` threads in all (0: every core) and
    ``in_flight`` requests: one LATENCY stream using every thread for one request, else one
    THROUGHPUT stream per request, as many as there are threads for."""
    if in_flight == 1:
        return {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    return {
        "PERFORMANCE_HINT": "THROUGHPUT",
        "NUM_STREAMS": in_flight if threads == 0 else min(in_flight, threads),
        "INFERENCE_NUM_THREADS": threads,
    }


class OpenVinoJob:
    """One batch running on one of the backend's infer requests (:class:`InferenceJob`).

    The request reads ``batch`` in place (``share_inputs``), so the job keeps a reference to
    it until the request is done. ``wait`` copies the output out of the request's buffer, which
    the request's next batch reuses, and hands the request back to the backend's pool.
    """

    __slots__ = ("_batch", "_error", "_output", "_release", "_request", "_seconds", "_shape")

    def __init__(self, request: Any, batch: Tensor, release: Slots[Any]) -> None:
        self._request: Any | None = request
        self._batch: Tensor | None = batch
        self._shape: tuple[int, ...] = batch.shape
        self._release = release
        self._output: Tensor | None = None
        self._error: InferenceError | None = None
        self._seconds = 0.0
        try:
            request.start_async({0: batch}, share_inputs=True)
        except RuntimeError as error:  # e.g. a shape the model cannot take: raised by wait()
            self._settle_failed(error)

    @property
    def seconds(self) -> float:
        """Seconds the request ran, as OpenVINO's Python binding timed it."""
        return self._seconds

    def done(self) -> bool:
        """Whether the request has finished, successfully or not."""
        if self._request is None:
            return True
        try:
            return bool(self._request.wait_for(0))
        except RuntimeError as error:  # wait_for raises the inference's own error
            self._settle_failed(error)
            return True

    def wait(self) -> Tensor:
        """The batch's output (B, 4 + classes, anchors); see :meth:`InferenceJob.wait`."""
        request = self._request
        if request is not None:
            try:
                request.wait()
            except RuntimeError as error:
                self._settle_failed(error)
            else:
                self._settle_done(request)
        if self._error is not None:
            raise self._error
        assert self._output is not None
        return self._output

    def _settle_done(self, request: Any) -> None:
        self._output = request.get_output_tensor(0).data.copy()
        self._seconds = float(request.latency) / 1000.0
        self._release_request()

    def _settle_failed(self, error: RuntimeError) -> None:
        self._error = inference_failed(self._shape, error)
        self._error.__cause__ = error
        self._release_request()

    def _release_request(self) -> None:
        if self._request is not None:
            self._release.give(self._request)
        self._request = None
        self._batch = None  # the request no longer reads it


class OpenVinoBackend:
    """Runs an ultralytics YOLO detector (ONNX export, or IR made from it) on the CPU with OpenVINO.

    ``threads`` sets ``INFERENCE_NUM_THREADS`` (0 lets OpenVINO use every core); ``in_flight``
    is how many batches may run at once (:func:`compile_config`). Use it from one thread.
    """

    name = "openvino"

    def __init__(self, model_path: Path, threads: int, in_flight: int = 1) -> None:
        check_counts(threads, in_flight)
        core = ov.Core()
        model = core.read_model(model_path)
        if not model.has_rt_info(list(NAMES_KEY)):
            raise ModelFormatError(f"{model_path} has no 'names' metadata")
        self.class_names = parse_class_names(model.get_rt_info(list(NAMES_KEY)).astype(str))
        compiled = core.compile_model(model, "CPU", compile_config(threads, in_flight))
        self._requests = [compiled.create_infer_request() for _ in range(in_flight)]
        self._slots: Slots[Any] = Slots(self._requests, "OpenVinoBackend")
        self._closed = False

    @property
    def in_flight(self) -> int:
        """How many infer requests there are."""
        return self._slots.size

    def start(self, batch: Tensor) -> OpenVinoJob:
        """Start ``batch`` (B, 3, H, W; H and W multiples of 32) on a free infer request."""
        if self._closed:
            raise DetectorError("OpenVinoBackend.start called after close()")
        return OpenVinoJob(self._slots.take(), batch, self._slots)

    def infer(self, batch: Tensor) -> Tensor:
        """Run ``batch`` (B, 3, H, W); H and W must be multiples of 32."""
        return self.start(batch).wait()

    def close(self) -> None:
        """Wait for running requests, then drop them; OpenVINO frees the compiled model with
        the last reference."""
        for request in self._requests:
            with contextlib.suppress(RuntimeError):  # that batch's job reports the error
                request.wait()
        self._requests = []
        self._closed = True
