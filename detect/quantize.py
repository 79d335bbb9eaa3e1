"""Post-training int8 quantisation of the YOLO detector with NNCF, calibrated on local clips.

Why: a station PC without AMX runs yolov8n in fp32, ~15 images/s at 640 on one core. Its CPU
has VNNI, and there int8 runs 2-2.5x faster with the same detections (speed in
``benchmarks/results/detector-latest.json``, accuracy in ``tests/test_detect_int8.py``).

``matthan quantize`` turns ``yolov8n.onnx`` into ``models/yolov8n-int8.xml`` (+ ``.bin``), an
OpenVINO IR that :class:`~detect.backends.openvino_backend.OpenVinoBackend` loads like the ONNX
file. It follows what ultralytics' own OpenVINO int8 export does:

* ``ov.convert_model`` reads the ONNX file and fuses every SiLU (``x * sigmoid(x)``) into one
  Swish op, as ultralytics' torch-to-OpenVINO conversion has it. ``Core.read_model`` keeps
  Sigmoid + Multiply, and NNCF then quantises both inputs of those 57 Multiply ops: 114 more
  quantisers and a model 20-45% slower, for no gain in accuracy.
* Preset MIXED: symmetric int8 weights, asymmetric int8 activations (SiLU outputs are mostly
  positive, so a symmetric range would waste half the codes).
* An ignored scope keeps the head's post-processing in fp32: the DFL box decoding (the Add, Sub,
  Mul and Div ops of ``/model.N/`` itself and all of ``/model.N/dfl/``) and the class Sigmoid.
  The output concatenates box coordinates in pixels (0..640) with scores (0..1): one 8-bit
  scale for both would round the scores away. The convolutions before them are quantised.
* Calibration: :data:`CALIBRATION_FRAMES` frames, as ultralytics and NNCF default to, spread
  evenly over the keyframes of every clip in the library (several scenes: day, low light,
  indoor, traffic), letterboxed by :func:`detect.letterbox.letterbox` exactly as at run time.
  Only keyframes are decoded (fast), and lazily: 300 letterboxed 640 inputs would hold ~0.9 GB.

It takes ~95 s on a quiet 2-vCPU Xeon (almost all of it NNCF's statistics pass over the 300
frames) and ~0.5 GB of memory. The IR keeps the dynamic batch, height and width of the ONNX
model, and its class names where the ONNX import puts them (rt_info ``framework/names``).
Nothing is downloaded. NNCF and OpenVINO's converter send usage telemetry unless told not to;
``scripts/install`` opts out.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
import numpy.typing as npt
import openvino as ov

from common.paths import LOCAL_MODELS, default_clips_dir, resolve_model
from detect.backends.openvino_backend import NAMES_KEY
from detect.errors import DetectorError, ModelFormatError
from detect.letterbox import check_imgsz, letterbox

INT8_MODEL = "yolov8n-int8.xml"
"""What ``matthan quantize`` writes into ``models/`` unless told otherwise."""
CALIBRATION_FRAMES = 300
DFL_OP = re.compile(r"(.*/model\.\d+)/dfl/")
"""An op of the head's DFL in an ultralytics ONNX export; group 1 names the head."""


class QuantizeError(DetectorError):
    """Quantisation cannot start: NNCF missing or no calibration clips."""


def library_clips(folder: Path) -> list[Path]:
    """Every ``*.mp4`` under ``folder``, recursively, without the library's ``*.orig.*`` copies.

    A folder of a station's own recordings works too: calibrating on its cameras fits best.
    """
    clips = sorted(clip for clip in folder.rglob("*.mp4") if ".orig." not in clip.name)
    if not clips:
        raise QuantizeError(f"no *.mp4 clips under {folder} to calibrate on")
    return clips


class CalibrationFrames:
    """``count`` keyframes spread evenly over all keyframes of ``clips``, letterboxed at ``imgsz``.

    Iterating decodes the clips again (keyframes only) and yields each chosen frame as the
    (1, 3, H, W) tensor the detector would feed the model; NNCF may iterate more than once.
    """

    def __init__(self, clips: Sequence[Path], imgsz: int, count: int = CALIBRATION_FRAMES) -> None:
        check_imgsz(imgsz)
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        self.clips = tuple(clips)
        self.imgsz = imgsz
        total = sum(_count_keyframes(clip) for clip in self.clips)
        if not total:
            raise QuantizeError(f"no keyframes in {len(self.clips)} clips")
        spread = np.linspace(0, total - 1, min(count, total)).round().astype(int)
        self._chosen = frozenset(spread.tolist())

    def __len__(self) -> int:
        return len(self._chosen)

    def __iter__(self) -> Iterator[npt.NDArray[np.float32]]:
        index = 0
        for clip in self.clips:
            for frame in _keyframes(clip):
                if index in self._chosen:
                    yield letterbox([frame], self.imgsz).tensor
                index += 1

    def describe(self) -> str:
        """One line saying what the model was calibrated on, stored in the IR's rt_info."""
        names = ", ".join(clip.name for clip in self.clips)
        return f"{len(self)} keyframes at imgsz {self.imgsz} from {len(self.clips)} clips: {names}"


def _count_keyframes(clip: Path) -> int:
    """Keyframes of the clip's video, counted from the demuxed packets (nothing decoded)."""
    with av.open(str(clip)) as container:
        return sum(packet.is_keyframe for packet in container.demux(video=0))


def _keyframes(clip: Path) -> Iterator[npt.NDArray[np.uint8]]:
    """The clip's keyframes as BGR arrays; the decoder skips all the frames between them."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        for frame in container.decode(stream):
            yield cast(npt.NDArray[np.uint8], frame.to_ndarray(format="bgr24"))


def quantize(source: Path, target: Path, calibration: CalibrationFrames) -> None:
    """Write ``target`` (.xml and .bin), the int8 IR of the ONNX YOLO detector ``source``."""
    nncf = _import_nncf()
    model = ov.convert_model(source)  # fuses SiLU into Swish; Core.read_model would not
    if not model.has_rt_info(list(NAMES_KEY)):
        raise ModelFormatError(f"{source} has no 'names' metadata")
    quantized = nncf.quantize(
        model,
        nncf.Dataset(calibration),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(calibration),
        ignored_scope=_head_post_processing(nncf, model),
    )
    quantized.set_rt_info(calibration.describe(), ["matthan", "calibration"])
    _save(quantized, target)


def _import_nncf() -> Any:
    """NNCF, from the optional extra ``quantize``; imported here only, as it takes seconds."""
    try:
        import nncf
    except ModuleNotFoundError as error:
        raise QuantizeError(
            "NNCF is not installed: run scripts/install or pip install -e '.[quantize]'"
        ) from error
    return nncf


def _head_post_processing(nncf: Any, model: ov.Model) -> Any:
    """The ``nncf.IgnoredScope`` of the detection head's post-processing (see module doc)."""
    heads = {m[1] for op in model.get_ops() if (m := DFL_OP.match(op.get_friendly_name()))}
    if len(heads) != 1:
        raise ModelFormatError(f"expected the DFL ops of one ultralytics head, found {heads}")
    head = re.escape(heads.pop())
    return nncf.IgnoredScope(
        patterns=[f"{head}/(Add|Sub|Mul|Div)", f"{head}/dfl/"], types=["Sigmoid"]
    )


def _save(model: ov.Model, target: Path) -> None:
    """Save the IR beside ``target`` first, then move it in: an .xml found has its whole .bin.

    Weights stay as quantised (int8) or fp32: ``compress_to_fp16`` would round the fp32 ones.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        staged = Path(scratch) / target.name
        ov.save_model(model, staged, compress_to_fp16=False)
        staged.with_suffix(".bin").replace(target.with_suffix(".bin"))
        staged.replace(target)


def main(model: str, output: Path | None, clips: Path | None, imgsz: int, frames: int) -> int:
    """``matthan quantize``: the int8 IR of ``model``, calibrated on ``frames`` frames of ``clips``.

    ``output`` defaults to ``models/yolov8n-int8.xml`` and ``clips`` to the clip library.
    """
    target = output or LOCAL_MODELS / INT8_MODEL
    started = time.perf_counter()
    try:
        calibration = CalibrationFrames(library_clips(clips or default_clips_dir()), imgsz, frames)
        quantize(resolve_model(model), target, calibration)
    except (DetectorError, FileNotFoundError, ValueError) as error:
        print(f"matthan quantize: {error}", file=sys.stderr)
        return 2
    print(f"wrote {target} in {time.perf_counter() - started:.0f} s ({calibration.describe()})")
    return 0
