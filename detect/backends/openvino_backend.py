"""OpenVINO backend: the fastest CPU runtime for YOLO on Intel CPUs.

It loads the ONNX file directly (no conversion step) or an OpenVINO IR (``.xml`` + ``.bin``),
such as the int8 model ``matthan quantize`` makes (:mod:`detect.quantize`). On CPUs with AMX
an fp32 model runs in bf16 by default, about 3x faster than fp32; elsewhere it runs fp32, and
the int8 IR uses VNNI (or AMX) int8 instructions.

Choices, measured on a 2-vCPU Xeon without AMX (AVX-512 VNNI), yolov8n, fp32 and int8:

* ``PERFORMANCE_HINT=LATENCY``: one stream using all ``threads`` for each request. We run one
  synchronous request at a time, so THROUGHPUT (several streams sharing the cores) only made
  each call 25-60% slower with 2 threads (a lone request gets one stream's share); with
  1 thread both hints compile the same thing.
* One compile with the model's dynamic batch/height/width. Compiling one static model per
  input shape was no faster with 1 thread (fp32 or int8) and 0-10% faster for int8 with 2,
  but costs 250-400 ms per new shape (a partial batch is a new shape) and a copy of the compiled
  model in memory for each. The dynamic model pays ~20-50 ms extra only on the first call with
  each new shape.
* OpenVINO's other CPU knobs are left at their defaults: ``ENABLE_CPU_PINNING`` off or on,
  ``CPU_DENORMALS_OPTIMIZATION`` on or off changed int8 or fp32 rates by less than the noise
  (±10%), also beside a busy process on the other core. ``INFERENCE_PRECISION_HINT`` matters
  only on AMX (bf16) CPUs. Two streams with two requests in flight would give int8 another
  10-30% on two cores, but only with asynchronous batches in the detection core.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import openvino as ov

from detect.backends.base import parse_class_names
from detect.errors import DetectorError, ModelFormatError

NAMES_KEY = ("framework", "names")
"""Where the ONNX import puts ultralytics' ``names`` metadata in the model's rt_info; an IR
saved from such a model (``matthan quantize``) keeps it there."""


class OpenVinoBackend:
    """Runs an ultralytics YOLO detector (ONNX export, or IR made from it) on the CPU with OpenVINO.

    ``threads`` sets ``INFERENCE_NUM_THREADS``; 0 lets OpenVINO use every core.
    """

    name = "openvino"

    def __init__(self, model_path: Path, threads: int) -> None:
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        core = ov.Core()
        model = core.read_model(model_path)
        if not model.has_rt_info(list(NAMES_KEY)):
            raise ModelFormatError(f"{model_path} has no 'names' metadata")
        self.class_names = parse_class_names(model.get_rt_info(list(NAMES_KEY)).astype(str))
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
        self._request: ov.InferRequest | None = core.compile_model(
            model, "CPU", config
        ).create_infer_request()

    def infer(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run ``batch`` (B, 3, H, W); H and W must be multiples of 32."""
        if self._request is None:
            raise DetectorError("OpenVinoBackend.infer called after close()")
        # share_inputs: OpenVINO reads our array in place instead of copying it.
        self._request.infer({0: batch}, share_inputs=True)
        # The output tensor is the request's buffer, reused by the next call: copy it out.
        output: npt.NDArray[np.float32] = self._request.get_output_tensor(0).data.copy()
        return output

    def close(self) -> None:
        """Drop the compiled model; OpenVINO frees it with the last reference."""
        self._request = None
