"""Create an inference backend by name, checking the model file first."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from detect.backends.base import Backend
from detect.errors import ModelNotFoundError, UnknownBackendError

BackendKind = Literal["openvino", "onnxruntime"]
BACKEND_KINDS: tuple[str, ...] = get_args(BackendKind)


def create_backend(
    kind: BackendKind, model_path: Path, threads: int, in_flight: int = 1
) -> Backend:
    """Load ``model_path`` with the runtime ``kind``, using ``threads`` CPU threads (0: all)
    and allowing ``in_flight`` batches in inference at once (``Backend.start``).

    Raises ``UnknownBackendError`` (a ``ValueError``) for an unknown ``kind`` and
    ``ModelNotFoundError`` (a ``FileNotFoundError``) when the file is missing. Only the chosen
    runtime is imported, so a deployment needs just that one installed.
    """
    if kind not in BACKEND_KINDS:
        raise UnknownBackendError(
            f"unknown detector backend {kind!r}; choose one of {', '.join(BACKEND_KINDS)}"
        )
    if not model_path.is_file():
        raise ModelNotFoundError(f"detector model file not found: {model_path}")
    if kind == "openvino":
        from detect.backends.openvino_backend import OpenVinoBackend

        return OpenVinoBackend(model_path, threads, in_flight)
    from detect.backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(model_path, threads, in_flight)
