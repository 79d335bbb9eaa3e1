"""Where matthan finds files it does not ship: the model and the clip library."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_MODELS = REPO_ROOT / "models"
"""Models made on this machine (``matthan quantize``) or fetched by ``scripts/fetch-model``."""


def model_search_path() -> list[Path]:
    """Folders searched for a model named without a folder, in order."""
    places = [Path(os.environ["MATTHAN_MODELS"])] if "MATTHAN_MODELS" in os.environ else []
    return [*places, LOCAL_MODELS, REPO_ROOT.parent / "shared" / "models"]


def default_clips_dir() -> Path:
    """The clip library: `$MATTHAN_CLIPS`, else ``shared/clips`` beside the repository.

    The demo serves its clips as cameras (:mod:`matthan.demo`), ``matthan quantize``
    calibrates on them; the tests and benchmarks use them too.
    """
    configured = os.environ.get("MATTHAN_CLIPS")
    if configured:
        return Path(configured)
    return REPO_ROOT.parent / "shared" / "clips"


def default_plates_dir() -> Path:
    """The Vietnamese plate photos (``vn-parking``): ``$MATTHAN_SHARED/plates/vn-parking``,
    else ``shared/plates/vn-parking`` beside the repository. The demo's gate camera is made
    of them (:mod:`matthan.farm.photo_clip`)."""
    shared = Path(os.environ.get("MATTHAN_SHARED", REPO_ROOT.parent / "shared"))
    return shared / "plates" / "vn-parking"


def resolve_model(name: str) -> Path:
    """The model file for ``name``: a path as given, or a bare name found on the search path."""
    given = Path(name).expanduser()
    if given.is_absolute() or len(given.parts) > 1:
        if given.exists():
            return given
        raise FileNotFoundError(f"model file {given} does not exist; {_how_to_make(given)}")
    for folder in model_search_path():
        if (folder / name).exists():
            return folder / name
    searched = ", ".join(str(folder) for folder in model_search_path())
    raise FileNotFoundError(f"model {name!r} not found in {searched}; {_how_to_make(given)}")


def _how_to_make(model: Path) -> str:
    """What makes a missing model: an OpenVINO IR (.xml) is quantised here, the rest fetched."""
    if model.suffix == ".xml":
        return (
            "make the int8 model with `matthan quantize` (scripts/install runs it when the clip "
            "library is present; `--clips DIR` calibrates on your own recordings)"
        )
    return "run scripts/install to fetch it"
