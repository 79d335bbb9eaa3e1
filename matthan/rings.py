"""The shards' frame rings, owned by the supervisor (:mod:`common.frame_ring`).

The supervisor outlives every role, so it makes one ring per ingest shard before it starts any
of them and frees them all when it stops: a worker or detection core killed outright strands no
memory, and its successor goes on in the same ring. Only a supervisor killed outright
(``kill -9``, the OOM killer) cannot free its rings; the next one to start removes the rings of
matthan supervisors that no longer exist (:func:`remove_orphan_rings`), or every crash would
strand a ring's worth of memory (about 2.5 MB per camera at the defaults, half of it resident)
in ``/dev/shm`` until the machine reboots.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from common.frame_ring import FrameRing, RingPlan

log = logging.getLogger(__name__)

SHM_FOLDER = Path("/dev/shm")  # noqa: S108 - where Linux keeps POSIX shared memory
RING_NAME = re.compile(r"matthan-(\d+)-\d+")


_SERIAL = itertools.count()


def ring_name() -> str:
    """Unique per ring made in this process, so a new supervisor never reuses a stale block,
    and an analysis node can start a supervisor before its last one has finished stopping."""
    return f"matthan-{os.getpid()}-{next(_SERIAL)}"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs; a zombie (dead, not yet reaped) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def remove_orphan_rings(folder: Path = SHM_FOLDER) -> list[str]:
    """Unlink the rings whose owner process is gone; returns their names."""
    removed = []
    for path in folder.glob("matthan-*"):
        match = RING_NAME.fullmatch(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    if removed:
        log.warning("removed %d frame ring(s) left by dead supervisors: %s", len(removed), removed)
    return removed


def create_rings(shards: Sequence[Sequence[str]], frame_size: int) -> list[FrameRing]:
    """One ring per shard of camera ids, for frames of at most ``frame_size`` on each side."""
    remove_orphan_rings()
    rings: list[FrameRing] = []
    try:
        for cameras in shards:
            plan = RingPlan(ring_name(), tuple(cameras), frame_size, frame_size)
            rings.append(FrameRing.create(plan))
    except BaseException:
        for ring in rings:
            ring.close()
        raise
    return rings
