"""Free space on the volume that holds a folder, even before the folder exists.

The recordings folder is created by the first segment written, but an administrator wants
to know the free space of its volume from the first minute: :func:`volume_usage` measures
the nearest folder that exists on the way up, which lies on the same volume.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class VolumeUsage:
    """Bytes of one volume: its size and what an unprivileged writer may still use."""

    path: Path
    total_bytes: int
    free_bytes: int


def existing_ancestor(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing parent (resolved)."""
    candidate = path.resolve()
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    return candidate


def volume_usage(path: Path) -> VolumeUsage:
    """Size and free bytes of the volume holding ``path``; raises OSError if unreadable."""
    measured = existing_ancestor(path)
    usage = shutil.disk_usage(measured)
    return VolumeUsage(measured, usage.total, usage.free)
