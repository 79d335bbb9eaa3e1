"""The names of the processes the supervisor runs, in one place.

A role's name is its process name, the tag of its log lines (:mod:`matthan.logs`) and the key
of its heartbeat (:mod:`common.heartbeat`): the supervisor watches ``detect``'s beat to find a
hung core, readiness (``/readyz``) and the ``matthan_role_heartbeat_age_seconds`` metric list
every role's. So the supervisor that starts a role, the role that beats and the dashboard that
reads the beats must spell it the same way; they all take it from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

DETECT_ROLE = "detect"
"""The detection core (:func:`detect.core.run_detector`)."""
DASHBOARD_ROLE = "dashboard"
"""The web dashboard (:func:`dashboard.server.run_dashboard`); it does not beat."""
INTAKE_ROLE = "alerts-in"
"""A multi-node site's station: the alert stream into the store (:mod:`matthan.cluster.intake`)."""
REANALYSIS_ROLE = "reanalysis"
"""The re-analysis job runner (:func:`detect.reanalysis.run_reanalysis`), when enabled."""


def ingest_role(shard: int) -> str:
    """The ingest worker of camera shard ``shard`` (one per shard of the cameras):
    ``ingest-0``, ``ingest-1``, ..."""
    return f"ingest-{shard}"


def shard(items: Sequence[T], count: int) -> list[list[T]]:
    """``items`` (a site's cameras) dealt into ``count`` nearly equal interleaved shards, none
    empty: shard ``i`` is what ``ingest_role(i)`` reads."""
    count = max(1, min(count, len(items)))
    return [list(items[index::count]) for index in range(count)]
