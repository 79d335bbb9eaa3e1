"""Where matthan finds files it does not ship: the model and the clip library."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def model_search_path() -> list[Path]:
    """Folders searched for a model named without a folder, in order."""
    places = [Path(os.environ["MATTHAN_MODELS"])] if "MATTHAN_MODELS" in os.environ else []
    return [*places, REPO_ROOT / "models", REPO_ROOT.parent / "shared" / "models"]


def resolve_model(name: str) -> Path:
    """The model file for ``name``: a path as given, or a bare name found on the search path."""
    given = Path(name).expanduser()
    if given.is_absolute() or len(given.parts) > 1:
        if given.exists():
            return given
        raise FileNotFoundError(f"model file {given} does not exist")
    for folder in model_search_path():
        if (folder / name).exists():
            return folder / name
    searched = ", ".join(str(folder) for folder in model_search_path())
    raise FileNotFoundError(
        f"model {name!r} not found in {searched}; run scripts/install to fetch it"
    )
