"""The production config style that the benchmarks run with."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def production_detector(input_size: int | None = None) -> str:
    """The detector section of the station's own config, as YAML flow (the same model,
    input size and batching as production)."""
    from common.config_loader import load_site

    detector = load_site(REPO / "configs" / "battrang.yaml").detector
    if input_size is not None:
        detector = detector.model_copy(update={"input_size": input_size})
    return json.dumps(detector.model_dump(mode="json"))
