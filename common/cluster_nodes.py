"""What the station knows of its analysis nodes, for ``/readyz`` and the camera pages.

On a site over several machines the station's intake (:mod:`matthan.cluster.intake`) reads the
nodes' reports from NATS every few seconds and writes them here, one row per node, so that the
dashboard (which never talks to NATS) can say which node analyses which camera and which
cameras nobody analyses. A node that stopped reporting keeps its row with its last time.
A node also says where it serves its recorded footage (``footage_url``,
:mod:`matthan.cluster.footage_server`), which :mod:`common.node_footage` fetches from.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster_nodes (
    name        TEXT PRIMARY KEY,
    cameras     TEXT NOT NULL,
    analysing   TEXT NOT NULL,
    seen_at     REAL NOT NULL,
    footage_url TEXT,
    origin      TEXT
)
"""


@dataclass(frozen=True, slots=True)
class NodeReport:
    """A node as it last reported: the cameras it holds, those it analyses, and the address
    of its footage server (None: it serves none, e.g. an older build)."""

    name: str
    cameras: tuple[str, ...]
    analysing: tuple[str, ...]
    seen_at: float
    footage_url: str | None = None
    origin: str | None = None
    """The node store's origin, which begins the uid of every alert it sends."""


def add_missing_columns(db: sqlite3.Connection) -> None:
    """Give a ``cluster_nodes`` table made before the nodes' footage its ``footage_url``
    (migration 6) and one made before that its ``origin`` (migration 8)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(cluster_nodes)")}
    for column in ("footage_url", "origin"):
        if column not in columns:
            db.execute(f"ALTER TABLE cluster_nodes ADD COLUMN {column} TEXT")


def record(store: Store, reports: list[NodeReport]) -> None:
    """Replace the rows of the nodes in ``reports`` (others keep their last report)."""
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO cluster_nodes (name, cameras, analysing, seen_at, footage_url, origin)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET cameras=excluded.cameras,"
            " analysing=excluded.analysing, seen_at=excluded.seen_at,"
            " footage_url=excluded.footage_url, origin=excluded.origin",
            [
                (
                    r.name,
                    json.dumps(r.cameras),
                    json.dumps(r.analysing),
                    r.seen_at,
                    r.footage_url,
                    r.origin,
                )
                for r in reports
            ],
        )


def reports(store: Store) -> list[NodeReport]:
    """Every node that ever reported, by name (none on a single machine)."""
    return [
        NodeReport(
            row["name"],
            tuple(json.loads(row["cameras"])),
            tuple(json.loads(row["analysing"])),
            float(row["seen_at"]),
            row["footage_url"],
            row["origin"],
        )
        for row in store.read("SELECT * FROM cluster_nodes ORDER BY name")
    ]


def footage_url(store: Store, node: str) -> str | None:
    """Where node ``node`` last said it serves its footage; None if it never did."""
    rows = store.read("SELECT footage_url FROM cluster_nodes WHERE name = ?", (node,))
    return str(rows[0][0]) if rows and rows[0][0] is not None else None
