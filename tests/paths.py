"""Where the shared test assets (models, clips) live.

They sit outside the repository, in ``<repo>/../shared``; the environment variables
``MATTHAN_SHARED``, ``MATTHAN_MODELS`` and ``MATTHAN_CLIPS`` point elsewhere (e.g. in CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


MODEL_HOW = "run scripts/fetch-model, or set MATTHAN_MODELS"
CLIPS_HOW = "put the shared clips there, or set MATTHAN_CLIPS"


def require(path: Path, what: str, how: str) -> Path:
    """``path``, which the test cannot do without. When it is missing the test fails, saying
    what is missing and how to get it; it never skips (a suite that passes without its model
    or clips has tested nothing)."""
    if not path.exists():
        pytest.fail(f"{what} missing: {path} ({how})", pytrace=False)
    return path


def require_model(path: Path) -> Path:
    """A model file the test needs (see :func:`require`)."""
    return require(path, "model", MODEL_HOW)


def require_clip(path: Path) -> Path:
    """A shared clip the test needs (see :func:`require`)."""
    return require(path, "clip", CLIPS_HOW)


PLATES_HOW = "put the vn-parking plate data set there, or set MATTHAN_SHARED"


def plates_dir() -> Path:
    """The vn-parking plate data set (see :func:`require`)."""
    return require(shared_dir() / "plates" / "vn-parking", "plate data set", PLATES_HOW)
