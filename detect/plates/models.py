"""The OCR models: PP-OCRv4 text detection and recognition, as shipped in a pip wheel.

``rapidocr-onnxruntime`` carries ``ch_PP-OCRv4_det_infer.onnx`` (DBNet text detection, 4.7 MB)
and ``ch_PP-OCRv4_rec_infer.onnx`` (SVTR-LCNet recognition, 10.9 MB, whose character list is in
the model's metadata) inside its wheel: installing the package installs the models, and nothing
is fetched at run time. We use only its model files; the code that runs them is ours
(``text_lines``, ``text_read``), so the thread count, input sizes and alphabet are ours to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from detect.errors import ModelNotFoundError

DETECTION_MODEL = "ch_PP-OCRv4_det_infer.onnx"
RECOGNITION_MODEL = "ch_PP-OCRv4_rec_infer.onnx"


def models_dir() -> Path:
    """The folder of the installed ``rapidocr_onnxruntime`` package's models (not imported:
    only its files are used). Raises ``ModelNotFoundError`` naming the package to install."""
    spec = find_spec("rapidocr_onnxruntime")
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            "plate OCR models missing: install rapidocr-onnxruntime (scripts/install)"
        )
    return Path(spec.origin).parent / "models"


def open_session(path: Path, threads: int) -> Any:
    """An onnxruntime CPU session on ``path`` with ``threads`` intra-op threads (0: all cores),
    whose idle threads do not spin (as the detector's backend)."""
    if not path.is_file():
        raise ModelNotFoundError(f"plate OCR model file not found: {path}")
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    import onnxruntime as ort  # here: a site without plates never loads it

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True, slots=True)
class OcrModels:
    """The two open sessions and the recogniser's character list (index 0 is the CTC blank)."""

    detection: Any
    recognition: Any
    characters: tuple[str, ...]

    @classmethod
    def load(cls, threads: int = 1, folder: Path | None = None) -> OcrModels:
        """Open both models from ``folder`` (default: the wheel's) on ``threads`` threads each."""
        folder = folder or models_dir()
        recognition = open_session(folder / RECOGNITION_MODEL, threads)
        meta = recognition.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ModelNotFoundError(f"{RECOGNITION_MODEL} has no character list in its metadata")
        # PaddleOCR's CTC head: class 0 is the blank, then the dictionary, then a space.
        characters = ("", *meta["character"].splitlines(), " ")
        return cls(open_session(folder / DETECTION_MODEL, threads), recognition, characters)
