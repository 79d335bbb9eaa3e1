"""The production config style that the benchmarks run with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def production_detector(
    input_size: int | None = None, *, mode: str | None = None, region_size: int | None = None
) -> str:
    """The detector section of the station's own config, as YAML flow (the same model,
    input size, mode and batching as production), with the given fields overridden."""
    return json.dumps(detector_settings(input_size, mode=mode, region_size=region_size))


def detector_settings(
    input_size: int | None = None, *, mode: str | None = None, region_size: int | None = None
) -> dict[str, Any]:
    """:func:`production_detector` as a dict, validated by the config model."""
    from common.config import DetectorConfig
    from common.config_loader import load_site

    detector = load_site(REPO / "configs" / "battrang.yaml").detector
    update = {"input_size": input_size, "mode": mode, "region_size": region_size}
    changed = {key: value for key, value in update.items() if value is not None}
    settings = detector.model_dump(mode="json") | changed
    validated: dict[str, Any] = DetectorConfig.model_validate(settings).model_dump(mode="json")
    return validated


def model_input_size(detector: dict[str, Any]) -> int:
    """The model's input side in the detector's mode: ``input_size`` for whole frames,
    ``region_size`` for regions (crops)."""
    key = "region_size" if detector.get("mode", "frame") == "regions" else "input_size"
    return int(detector[key])


def mode_name(detector: dict[str, Any]) -> str:
    """``frame@640``, ``regions@320``: the mode and its model input size."""
    return f"{detector.get('mode', 'frame')}@{model_input_size(detector)}"
