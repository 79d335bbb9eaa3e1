"""A case's evidence package: one ZIP that can be checked file by file against its manifest.

What is in it (flat, as in a camera export, :mod:`dashboard.routes.export`):

- ``clip-ID-CAMERA.mp4``: each clip of the case cut from the recordings without re-encoding
  (:func:`common.evidence.cut_clip`);
- ``alert-ID.jpg`` and ``finding-ID.jpg``: each alert's and re-analysis finding's snapshot;
- ``case.json``: the case, its alerts, findings, clips (with the file each became, or none
  when nothing was recorded in its window) and notes; ``notes.txt``: the notes to read, in
  the site's time;
- ``audit.json``: the case's audit trail (:func:`common.cases.trail`) with each row's chain
  hashes, so it can be checked against the station's log; its last ``case.export`` row
  names who asked for this package and why;
- ``manifest.json``: every other file with its size and SHA-256, the case, who exported it
  and when (:func:`common.evidence.write_manifest`).

The package is built after the request was answered (:func:`run_export`: it may cut hours
of footage) and its size is bounded before it starts (:func:`estimated_bytes`). An admin's
package puts its clips' footage on legal hold, as an admin's camera export does.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import alert_rows, case_exports, cases, jobs, recordings
from common.case_exports import CaseExport, ExportState
from common.cases import Case, CaseClip
from common.evidence import (
    ClipFile,
    NoFootageError,
    PackageFile,
    cut_clip,
    exports_folder,
    file_sha256,
    write_manifest,
)
from common.node_footage import DEFAULT_TOKEN_ENV, local_segments
from common.store import Store

log = logging.getLogger(__name__)
MAX_PACKAGE_BYTES = 8 * 2**30
"""The most recorded footage one package may cut (counted on the segments it reads)."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """Who asked for a package and how it is to be built."""

    export: CaseExport
    timezone: str
    hold: bool
    """Put the clips' footage on legal hold (the exporter is an admin)."""
    address: str = ""
    token_env: str = DEFAULT_TOKEN_ENV
    """Where the site token is, to fetch a node's footage (:mod:`common.node_footage`)."""
    ca: Path | None = None
    """What a node's footage server is verified by (the site's ``cluster.tls.ca``)."""


def estimated_bytes(store: Store, clips: Sequence[CaseClip]) -> int:
    """The bytes of the recorded segments the clips would be cut from: at most that much
    footage is copied into the package."""
    return sum(
        segment.bytes
        for clip in clips
        for segment in recordings.segments(store, clip.camera_id, clip.start, clip.end)
    )


def _cut_clips(
    store: Store, clips: Sequence[CaseClip], folder: Path, request: ExportRequest
) -> tuple[list[ClipFile], dict[int, str | None]]:
    """Each clip cut into the folder; which file each clip became (None: nothing recorded)."""
    files: list[ClipFile] = []
    made: dict[int, str | None] = {}
    for clip in clips:
        found = recordings.segments(store, clip.camera_id, clip.start, clip.end)
        out = folder / f"clip-{clip.id}-{clip.camera_id}.mp4"
        try:  # a node's footage is fetched first; a node down fails the package, saying so
            on_disk = local_segments(store, found, request.token_env, request.ca)
            files.append(cut_clip(on_disk, clip.start, clip.end, out))
        except NoFootageError:
            made[clip.id] = None
            continue
        made[clip.id] = out.name
    return files, made


def _write(path: Path, data: bytes, camera_id: str = "", at: float = 0.0) -> PackageFile:
    path.write_bytes(data)
    return PackageFile.of(path, camera_id, at)


def _write_json(path: Path, value: object) -> PackageFile:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return _write(path, text.encode())


def _pictures(store: Store, case_id: int, folder: Path) -> tuple[list[PackageFile], list[Any]]:
    """Each alert's and finding's snapshot, and what ``case.json`` says of them."""
    files, listed = [], []
    for item in cases.alerts(store, case_id):
        alert = alert_rows.alert(store, item.alert_id)
        picture = alert_rows.snapshot(store, item.alert_id)
        entry: dict[str, Any] = {"type": "alert", **asdict(item), "alert": None, "file": None}
        if alert is not None and picture is not None:
            name = f"alert-{alert.id}.jpg"
            files.append(_write(folder / name, picture, alert.camera_id, alert.started_at))
            entry |= {"alert": asdict(alert), "file": name}
        listed.append(entry)
    for finding in cases.findings(store, case_id):
        found = jobs.job_alert(store, finding.finding_id)
        picture = jobs.job_alert_picture(store, finding.finding_id)
        entry = {"type": "finding", **asdict(finding), "finding": None, "file": None}
        if found is not None and picture is not None:
            name = f"finding-{found.id}.jpg"
            files.append(_write(folder / name, picture, found.camera_id, found.started_at))
            entry |= {"finding": asdict(found), "file": name}
        listed.append(entry)
    return files, listed


def _notes_text(found: Case, notes: Sequence[cases.CaseNote], zone: ZoneInfo) -> str:
    def when(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, zone).strftime("%d/%m/%Y %H:%M:%S")

    lines = [f"#{found.id} {found.title}", found.description, f"({zone.key})", ""]
    for note in notes:
        lines += [f"{when(note.at)} {note.author} [{note.kind}]", note.text, ""]
    return "\n".join(lines)


def _window(clips: Sequence[ClipFile], found: Case) -> tuple[float, float]:
    if not clips:
        return found.created_at, found.updated_at
    return min(c.start for c in clips), max(c.end for c in clips)


def build_package(store: Store, request: ExportRequest) -> Path:
    """Write the package's folder and its ZIP next to the store; returns the ZIP."""
    export = request.export
    found = cases.case(store, export.case_id)
    if found is None:
        raise cases.CaseNotFoundError(f"no case {export.case_id}")
    folder = exports_folder(store.path) / export.folder
    folder.mkdir(parents=True)
    clips = cases.clips(store, found.id)
    clip_files, made = _cut_clips(store, clips, folder, request)
    others, listed = _pictures(store, found.id, folder)
    notes = cases.notes(store, found.id)
    about = {
        "case": {**asdict(found), "cameras": sorted(cases.cameras_of(store, [found.id])[found.id])},
        "items": listed,
        "clips": [{**asdict(clip), "file": made[clip.id]} for clip in clips],
        "notes": [asdict(note) for note in notes],
    }
    others.append(_write_json(folder / "case.json", about))
    text = _notes_text(found, notes, ZoneInfo(request.timezone))
    others.append(_write(folder / "notes.txt", text.encode()))
    trail = [asdict(entry) for entry in cases.trail(store, found.id)]
    others.append(_write_json(folder / "audit.json", trail))
    facts = {"case": {"id": found.id, "title": found.title}, "case_export": export.id}
    window = _window(clip_files, found)
    write_manifest(
        folder, clip_files, export.requested_by, export.reason, window, others=others, facts=facts
    )
    if request.hold:
        _hold(store, request, clip_files)
    archive = folder.with_suffix(".zip")
    _zip_folder(folder, archive)
    return archive


def _hold(store: Store, request: ExportRequest, clip_files: Sequence[ClipFile]) -> None:
    export = request.export
    for clip in clip_files:
        recordings.add_legal_hold(
            store,
            clip.camera_id,
            start=clip.start,
            end=clip.end,
            reason=f"case {export.case_id}: {export.reason}",
            by=export.requested_by,
            at=time.time(),
            address=request.address,
        )


def _zip_folder(folder: Path, archive: Path) -> None:
    """Every file of the folder, stored (video does not shrink), written whole or not at all."""
    partial = archive.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as out:
        for path in sorted(folder.iterdir()):
            out.write(path, arcname=path.name)
    partial.replace(archive)


def run_export(store: Store, request: ExportRequest) -> None:
    """Build the package and say how it ended in its row: ``done`` with the ZIP's size and
    SHA-256, or ``failed`` (what was written is removed). Runs after the request's answer,
    so nothing is raised: a failure is logged and kept in the row."""
    export = request.export
    try:
        archive = build_package(store, request)
    except Exception as error:
        log.exception("case %d: package %d failed", export.case_id, export.id)
        folder = exports_folder(store.path) / export.folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.with_suffix(".partial").unlink(missing_ok=True)
        case_exports.finish_export(store, export.id, ExportState.FAILED, detail=str(error))
        return
    size, digest = archive.stat().st_size, file_sha256(archive)
    case_exports.finish_export(store, export.id, ExportState.DONE, size=size, sha256=digest)
