"""The pages' files: the static folder, and a page answered so that browsers check it anew on
every visit (``no-cache``: the page itself holds no data, its scripts fetch that)."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parents[1] / "static"


def page(name: str) -> FileResponse:
    """The page ``name`` (a file of the static folder)."""
    return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})
