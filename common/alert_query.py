"""Alert history filtered by camera, rule, class, state and time, newest first, in pages; the
alert marks of a replay timeline.

Areas and the user's scope are turned into a set of camera ids before the query, since
the store knows cameras, not areas; a scope that names no single camera also takes the
site-wide alerts (:data:`SITE_WIDE`). The query finds the ids (with the camera-time
index); the rows are then read through :func:`common.alert_rows.alert`, the store's single mapping
of a row to an :class:`~common.store.AlertRecord`. Every query here is of the live alerts
(``job_id IS NULL``): a re-analysis finding is not part of the history (:mod:`common.jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass

from common import alert_rows
from common.alert_rows import AlertRecord
from common.store import Store

SITE_WIDE = "*"
"""The camera id of an alert about the whole site (analysis down, disk low): every user
sees it, whatever their areas, since it concerns every camera."""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What to look for; None means "any". ``camera_ids`` empty means no camera at all."""

    camera_ids: frozenset[str] | None = None
    rule: str | None = None
    class_name: str | None = None
    state: str | None = None
    since: float | None = None
    until: float | None = None


def _where(wanted: AlertFilter, before: int | None) -> tuple[str, list[object]]:
    clauses = ["id < ?", "job_id IS NULL"]
    params: list[object] = [before if before is not None else 2**62]
    if wanted.camera_ids is not None:
        clauses.append(f"camera_id IN ({','.join('?' * len(wanted.camera_ids))})")
        params.extend(sorted(wanted.camera_ids))
    for column, value in (
        ("rule", wanted.rule),
        ("class_name", wanted.class_name),
        ("state", wanted.state),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if wanted.since is not None:
        clauses.append("started_at >= ?")
        params.append(wanted.since)
    if wanted.until is not None:
        clauses.append("started_at < ?")
        params.append(wanted.until)
    return " AND ".join(clauses), params


def search(
    store: Store, wanted: AlertFilter, limit: int = 50, before: int | None = None
) -> list[AlertRecord]:
    """Up to ``limit`` matching alerts with ids below ``before``, newest first."""
    if wanted.camera_ids is not None and not wanted.camera_ids:
        return []
    where, params = _where(wanted, before)
    rows = store.read(
        f"SELECT id FROM alerts WHERE {where} ORDER BY id DESC LIMIT ?", (*params, limit)
    )
    found = (alert_rows.alert(store, row["id"]) for row in rows)
    return [alert for alert in found if alert is not None]


def latest_alert(store: Store, camera_id: str) -> tuple[int, float] | None:
    """The id and start time of one camera's newest alert (one index probe, however long
    its history)."""
    rows = store.read(
        "SELECT id, started_at FROM alerts WHERE camera_id = ? AND job_id IS NULL"
        " ORDER BY started_at DESC LIMIT 1",
        (camera_id,),
    )
    return (int(rows[0]["id"]), float(rows[0]["started_at"])) if rows else None


def open_alert_count(store: Store) -> int:
    """How many live alerts have not ended (a district hub's summary of a station)."""
    rows = store.read("SELECT COUNT(*) FROM alerts WHERE ended_at IS NULL AND job_id IS NULL")
    return int(rows[0][0])


@dataclass(frozen=True, slots=True)
class AlertMark:
    """An alert on a replay timeline: when it started, its kind and rule."""

    id: int
    at: float
    kind: str
    rule: str


def alert_marks(store: Store, camera_id: str, start: float, end: float) -> list[AlertMark]:
    """The camera's alerts that started between ``start`` and ``end``, oldest first."""
    rows = store.read(
        "SELECT id, started_at, kind, rule FROM alerts WHERE camera_id = ? AND job_id IS NULL"
        " AND started_at BETWEEN ? AND ? ORDER BY started_at",
        (camera_id, start, end),
    )
    return [AlertMark(int(r[0]), float(r[1]), str(r[2]), str(r[3])) for r in rows]
