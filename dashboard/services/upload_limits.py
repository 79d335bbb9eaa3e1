"""How much re-analysis work the station takes in, so that one operator's script (or a
stolen session) cannot take all its connections, its queue or its disk.

The limits come from ``reanalysis`` in the site config; each is refused with a code the
page translates:

- uploads being received, all users together (``max_uploads``): 429 ``uploads_busy``;
- uploads being received from one user (``max_uploads_per_user``): 429 ``uploads_per_user``;
- jobs waiting in the queue, all users together (``max_queued_jobs``): 429 ``queue_full``;
- jobs waiting in the queue for one user (``max_queued_jobs_per_user``): 429
  ``queue_full_user``;
- uploaded files one user keeps on disk (``max_stored_mb_per_user``): 413 ``upload_quota``.

Uploads in flight are counted in memory by the app's :class:`UploadGate`; queued jobs and
stored files are counted from the store and the disk, so those hold across restarts. The
queue and the quota are checked before a byte of an upload is read (the operator learns at
once) and again, under :attr:`UploadGate.admitting`, just before the job is added (two
uploads that were both let in cannot together pass a limit).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import jobs
from common.config import ReanalysisConfig
from common.store import Store
from dashboard.refusals import Refusal

MIB = 1024 * 1024


class UploadGate:
    """Counts the uploads being received, in all and per user; one per app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._per_user: Counter[str] = Counter()
        self.admitting = threading.Lock()
        """Held while the queue and the quota are checked and a job is added."""

    @contextmanager
    def slot(self, username: str, limits: ReanalysisConfig) -> Iterator[None]:
        """Count one upload of ``username`` while the block runs; 429 when the user or the
        station already receives as many as allowed."""
        with self._lock:
            if self._per_user[username] >= limits.max_uploads_per_user:
                count = limits.max_uploads_per_user
                raise Refusal(
                    429,
                    "uploads_per_user",
                    f"you are already sending {count} files; wait for one to finish",
                    max_uploads=count,
                )
            if self._total >= limits.max_uploads:
                count = limits.max_uploads
                raise Refusal(
                    429,
                    "uploads_busy",
                    f"the station is already receiving {count} files; try again when one"
                    " has finished",
                    max_uploads=count,
                )
            self._total += 1
            self._per_user[username] += 1
        try:
            yield
        finally:
            with self._lock:
                self._total -= 1
                self._per_user[username] -= 1
                if self._per_user[username] <= 0:
                    del self._per_user[username]


def check_queue(store: Store, username: str, limits: ReanalysisConfig) -> None:
    """429 when ``username`` or all users together have as many jobs waiting as allowed."""
    mine = limits.max_queued_jobs_per_user
    if jobs.queued_by(store, username) >= mine:
        raise Refusal(
            429,
            "queue_full_user",
            f"you already have {mine} jobs waiting; wait for some to run or cancel them",
            max_jobs=mine,
        )
    everyone = limits.max_queued_jobs
    if jobs.queue_length(store) >= everyone:
        raise Refusal(
            429,
            "queue_full",
            f"{everyone} jobs are already waiting; try again when some have run",
            max_jobs=everyone,
        )


def over_quota(limits: ReanalysisConfig) -> Refusal:
    max_mb = limits.max_stored_mb_per_user
    return Refusal(
        413,
        "upload_quota",
        f"your uploaded files would take more than the {max_mb:g} MB each user may keep;"
        " delete finished jobs to make room",
        max_mb=max_mb,
    )


def stored_bytes(store: Store, username: str) -> int:
    """Bytes of the upload files ``username``'s jobs keep on disk. Blocking (one ``stat``
    per file): call it from a worker thread."""
    total = 0
    for path in jobs.upload_paths(store, username):
        try:
            total += Path(path).stat().st_size
        except FileNotFoundError:
            continue
    return total


def room_bytes(store: Store, username: str, limits: ReanalysisConfig) -> int:
    """Bytes ``username`` may still upload; 413 when none are left."""
    room = int(limits.max_stored_mb_per_user * MIB) - stored_bytes(store, username)
    if room <= 0:
        raise over_quota(limits)
    return room
