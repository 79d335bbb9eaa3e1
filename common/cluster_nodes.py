"""What the station knows of its analysis nodes, for ``/readyz`` and the camera pages.

On a site over several machines the station's intake (:mod:`matthan.cluster.intake`) reads the
nodes' reports from NATS every few seconds and writes them here, one row per node, so that the
dashboard (which never talks to NATS) can say which node analyses which camera and which
cameras nobody analyses. A node that stopped reporting keeps its row with its last time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster_nodes (
    name        TEXT PRIMARY KEY,
    cameras     TEXT NOT NULL,
    analysing   TEXT NOT NULL,
    seen_at     REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class NodeReport:
    """A node as it last reported: the cameras it holds and those it analyses."""

    name: str
    cameras: tuple[str, ...]
    analysing: tuple[str, ...]
    seen_at: float


def record(store: Store, reports: list[NodeReport]) -> None:
    """Replace the rows of the nodes in ``reports`` (others keep their last report)."""
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO cluster_nodes (name, cameras, analysing, seen_at) VALUES (?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET cameras=excluded.cameras,"
            " analysing=excluded.analysing, seen_at=excluded.seen_at",
            [(r.name, json.dumps(r.cameras), json.dumps(r.analysing), r.seen_at) for r in reports],
        )


def reports(store: Store) -> list[NodeReport]:
    """Every node that ever reported, by name (none on a single machine)."""
    return [
        NodeReport(
            row["name"],
            tuple(json.loads(row["cameras"])),
            tuple(json.loads(row["analysing"])),
            float(row["seen_at"]),
        )
        for row in store.read("SELECT * FROM cluster_nodes ORDER BY name")
    ]
