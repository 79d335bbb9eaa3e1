"""Pictures and footage are never kept in a browser's cache.

A station PC is shared: what one user's browser cached (an alert's snapshot, a recording,
an export) would stay on its disk after logout, readable by the next person at that desk.
Every answer that carries a picture or footage is therefore marked ``no-store``, decided
here once by its path so that a new route of that kind cannot forget it.
"""

from __future__ import annotations

from starlette.responses import Response

NO_STORE = "no-store"
MEDIA_SUFFIXES = (".jpg", ".jpeg", ".png", ".mp4", ".zip")
"""Snapshots, crops and thumbnails; recordings and clips; downloaded exports."""
MEDIA_PREFIXES = ("/api/exports/", "/api/recordings/")
"""Every file of an export and of a recording, whatever its name."""


def is_media(path: str) -> bool:
    """Whether an API path answers with a picture or footage."""
    if not path.startswith("/api/"):
        return False
    return path.endswith(MEDIA_SUFFIXES) or path.startswith(MEDIA_PREFIXES)


def forbid_caching(path: str, response: Response) -> None:
    """Mark the response ``no-store`` if its path is one of pictures or footage; this
    replaces whatever the route said (a picture that never changes may still not stay)."""
    if is_media(path):
        response.headers["Cache-Control"] = NO_STORE
