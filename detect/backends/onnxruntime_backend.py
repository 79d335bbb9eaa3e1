"""onnxruntime backend: the portable reference runtime (fp32 on any CPU).

Slower than OpenVINO on Intel CPUs, but it runs anywhere onnxruntime has wheels and gives an
independent check of the OpenVINO results. Worker threads do not spin while waiting
(``allow_spinning=0``): spinning threads burn the cores that decoding needs and made timings
noisy under contention.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from detect.backends.base import parse_class_names
from detect.errors import DetectorError, ModelFormatError


class OnnxRuntimeBackend:
    """Runs an ONNX YOLO model with onnxruntime's CPU execution provider.

    ``threads`` sets ``intra_op_num_threads``; 0 lets onnxruntime use every core.
    """

    name = "onnxruntime"

    def __init__(self, model_path: Path, threads: int) -> None:
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
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

    def infer(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run ``batch`` (B, 3, H, W); H and W must be multiples of 32."""
        if self._session is None:
            raise DetectorError("OnnxRuntimeBackend.infer called after close()")
        output: npt.NDArray[np.float32] = self._session.run(None, {self._input: batch})[0]
        return output

    def close(self) -> None:
        """Drop the session; onnxruntime frees it with the last reference."""
        self._session = None
