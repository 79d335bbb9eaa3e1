"""Live wall layouts: each user's named grids of live camera tiles.

A layout is what the live wall page (``/wall/live``) shows: a square grid (1, 4, 9 or 16
tiles), the camera of each tile (or none) and whether the tile is pinned, and whether new
alerts may pull their camera into the wall (``pull_alerts``; a pinned tile is never
replaced). A layout belongs to one user, and a user's layout names are unique; saving a name
that exists replaces it. The page opens the layout saved last (:func:`of_user` lists them
newest first).

The tiles are kept as JSON (``[{"camera_id": "cho-gom", "pinned": true}, ...]``): a layout
is read and written whole, never queried by tile. Which cameras a user may put on a wall is
the dashboard's business (their areas); a camera later removed from the site, or from the
user's areas, is dropped when the layout is read there (``dashboard.routes.wall``).

Saving and deleting are audited in the transaction that does them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common import audit
from common.audit import Action

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS wall_layouts (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    grid        INTEGER NOT NULL,
    tiles       TEXT NOT NULL DEFAULT '[]',
    pull_alerts INTEGER NOT NULL DEFAULT 0,
    saved_at    REAL NOT NULL,
    UNIQUE (user_id, name)
);
"""

GRID_SIZES = (1, 4, 9, 16)
"""Square grids only: 1x1, 2x2, 3x3, 4x4."""
_COLUMNS = "id, name, grid, tiles, pull_alerts, saved_at"


@dataclass(frozen=True, slots=True)
class WallTile:
    """One tile: its camera (None for an empty tile) and whether alerts may replace it."""

    camera_id: str | None
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class WallLayout:
    """A user's saved wall: exactly ``grid`` tiles, in reading order."""

    id: int
    name: str
    grid: int
    tiles: tuple[WallTile, ...]
    pull_alerts: bool
    saved_at: float

    def cameras(self) -> list[str]:
        """The cameras on the wall, in tile order (for the audit row)."""
        return [tile.camera_id for tile in self.tiles if tile.camera_id is not None]


def _tiles_text(tiles: tuple[WallTile, ...]) -> str:
    return json.dumps([{"camera_id": tile.camera_id, "pinned": tile.pinned} for tile in tiles])


def _layout(row: sqlite3.Row) -> WallLayout:
    tiles = tuple(
        WallTile(item.get("camera_id"), bool(item.get("pinned"))) for item in json.loads(row[3])
    )
    return WallLayout(
        id=int(row[0]),
        name=str(row[1]),
        grid=int(row[2]),
        tiles=tiles,
        pull_alerts=bool(row[4]),
        saved_at=float(row[5]),
    )


def save(
    store: Store,
    *,
    user_id: int,
    username: str,
    name: str,
    grid: int,
    tiles: tuple[WallTile, ...],
    pull_alerts: bool,
    address: str = "",
) -> WallLayout:
    """Add the user's layout ``name`` or replace it; it becomes the one opened next time."""
    if grid not in GRID_SIZES or len(tiles) != grid:
        raise ValueError(f"a wall has {GRID_SIZES} tiles and as many tiles as its grid")
    with store.transaction() as db:
        db.execute(
            "INSERT INTO wall_layouts (user_id, name, grid, tiles, pull_alerts, saved_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(user_id, name) DO UPDATE SET"
            " grid=excluded.grid, tiles=excluded.tiles, pull_alerts=excluded.pull_alerts,"
            " saved_at=excluded.saved_at",
            (user_id, name, grid, _tiles_text(tiles), int(pull_alerts), time.time()),
        )
        row = db.execute(
            f"SELECT {_COLUMNS} FROM wall_layouts WHERE user_id = ? AND name = ?",
            (user_id, name),
        ).fetchone()
        saved = _layout(row)
        audit.append(
            db,
            Action.WALL_LAYOUT_SAVE,
            username,
            target=f"wall {name}",
            detail={"grid": grid, "wall_cameras": saved.cameras(), "pull_alerts": pull_alerts},
            address=address,
        )
    return saved


def delete(store: Store, *, user_id: int, username: str, name: str, address: str = "") -> bool:
    """Remove the user's layout ``name``; False if they have none of that name."""
    with store.transaction() as db:
        cursor = db.execute(
            "DELETE FROM wall_layouts WHERE user_id = ? AND name = ?", (user_id, name)
        )
        if cursor.rowcount == 0:
            return False
        audit.append(
            db, Action.WALL_LAYOUT_DELETE, username, target=f"wall {name}", address=address
        )
    return True


def of_user(store: Store, user_id: int) -> list[WallLayout]:
    """The user's layouts, the one saved last first."""
    rows = store.read(
        f"SELECT {_COLUMNS} FROM wall_layouts WHERE user_id = ? ORDER BY saved_at DESC, id DESC",
        (user_id,),
    )
    return [_layout(row) for row in rows]
