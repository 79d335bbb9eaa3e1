"""Retention of evidence exports: removed ``recording.exports_retain_days`` after they were made.

An export (:mod:`dashboard.routes.export`) is a copy of footage cut for someone: a folder
``exports/ID/`` with its MP4 files and ``manifest.json``, plus ``exports/ID.zip`` once it
was downloaded whole (``ID.partial`` while that ZIP is being written). Nothing cleaned them
up, so the folder grew with every export.

An admin's export puts its footage on legal hold (the originals are kept by recording
retention); an operator's does not, until an admin holds it. The export is kept as long as
a hold lasts: an export any of whose files overlaps a legal hold of its camera is never
deleted here, however old; once the hold is lifted it goes at the next sweep past its age.
The age is the manifest's ``exported_at``, else the folder's modification time (an export
that failed before its manifest). Only names that are export ids are touched; each removal
is logged and counted (``matthan_exports_deleted_total``).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

from common import recordings
from common.store import Store
from ingest.metrics import EXPORTS_DELETED

log = logging.getLogger(__name__)
EXPORT_ID = re.compile(r"[0-9a-f]{32}")
SIDE_FILES = (".zip", ".partial")
"""Files next to an export's folder, named by its id: the ZIP and the ZIP being written."""


def remove_old_exports(store: Store, folder: Path, older_than: float) -> list[str]:
    """Delete the exports made before ``older_than`` (wall clock) that hold no footage on
    legal hold; returns their ids."""
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and EXPORT_ID.fullmatch(path.name):
            if _made_at(path) < older_than and not _on_hold(store, path):
                _remove(path)
                removed.append(path.name)
                EXPORTS_DELETED.inc()
                log.info("retention (exports): removed export %s", path.name)
        elif _orphan_side_file(path) and _modified(path) < older_than:
            path.unlink(missing_ok=True)
    return removed


def _modified(path: Path) -> float:
    """Modification time; infinitely recent for a file already gone (removed with its
    export earlier in the same pass)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _orphan_side_file(path: Path) -> bool:
    """A ZIP (or half-written ZIP) of an export whose folder is gone."""
    return (
        path.suffix in SIDE_FILES
        and EXPORT_ID.fullmatch(path.stem) is not None
        and not path.with_suffix("").exists()
    )


def _manifest(export: Path) -> dict[str, object] | None:
    try:
        data = json.loads((export / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _made_at(export: Path) -> float:
    manifest = _manifest(export)
    made = manifest.get("exported_at") if manifest else None
    return float(made) if isinstance(made, int | float) else export.stat().st_mtime


def _on_hold(store: Store, export: Path) -> bool:
    """Whether a file of the export overlaps a legal hold of its camera. A manifest that
    cannot be read names no footage: nothing of it can be on hold."""
    manifest = _manifest(export)
    files = manifest.get("files") if manifest else None
    if not isinstance(files, list):
        return False
    return any(
        recordings.on_hold(store, str(entry["camera_id"]), entry["start"], entry["end"])
        for entry in files
        if isinstance(entry, dict)
    )


def _remove(export: Path) -> None:
    shutil.rmtree(export, ignore_errors=True)
    for suffix in SIDE_FILES:
        export.with_suffix(suffix).unlink(missing_ok=True)
