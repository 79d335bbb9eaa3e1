"""Where each camera's periodic thumbnail lives: ``<database folder>/thumbnails/<id>.jpg``.

Ingest writes the files (:mod:`ingest.thumbnail`), the dashboard reads them
(:mod:`dashboard.services.thumbnails`); both find the folder from the database path, the way the
metrics, clips and exports folders are found, so the two processes agree without a
setting of their own.

A camera id is checked again here, although the config already restricts it to
``[a-z0-9][a-z0-9_-]*``: this is the one place where an id becomes a file name, and a
name like ``../matthan.db`` must never get that far, whatever called us.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

FOLDER_NAME = "thumbnails"
SAFE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
"""The config's camera id pattern: no dot, no slash, so no way out of the folder."""


def thumbnails_folder(database: Path) -> Path:
    """The thumbnails folder next to the store at ``database``."""
    return database.resolve().parent / FOLDER_NAME


def thumbnail_path(folder: Path, camera_id: str) -> Path:
    """The thumbnail file of ``camera_id`` in ``folder``; ValueError for an unsafe id."""
    if not SAFE_ID.fullmatch(camera_id):
        raise ValueError(f"not a camera id: {camera_id!r}")
    path = folder / f"{camera_id}.jpg"
    if path.parent != folder:  # cannot happen with SAFE_ID; kept as the last word
        raise ValueError(f"not a camera id: {camera_id!r}")
    return path


def temporary_path(path: Path) -> Path:
    """Where a new thumbnail is written before it replaces ``path``: hidden, same folder
    (``os.replace`` is atomic only within one file system), never served."""
    return path.with_name(f".{path.name}.tmp")


def write_atomically(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` so that a reader sees the old file or the new, whole."""
    temporary = temporary_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
