"""Where the shared test assets (models, clips) live.

They sit outside the repository, in ``<repo>/../shared``; the environment variables
``MATTHAN_SHARED``, ``MATTHAN_MODELS`` and ``MATTHAN_CLIPS`` point elsewhere (e.g. in CI).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The shared assets folder."""
    return Path(os.environ.get("MATTHAN_SHARED", REPO.parent / "shared"))


def models_dir() -> Path:
    """The folder holding the detector models (yolov8n.onnx, ...)."""
    return Path(os.environ.get("MATTHAN_MODELS", shared_dir() / "models"))


def clips_dir() -> Path:
    """The folder holding the test video clips and their ground truth."""
    return Path(os.environ.get("MATTHAN_CLIPS", shared_dir() / "clips"))
