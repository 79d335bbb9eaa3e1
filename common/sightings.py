"""Every track's best sighting, kept for investigation: "where did the man in the red shirt
go, between 21:00 and 22:00, on any camera".

When a live track ends, the detection core keeps its most confident picture
(:mod:`detect.sightings`, :mod:`detect.sighting_keeper`): the crop, its class, camera and the
zones its feet stood in, when it was first and last seen, the share of each named colour of
the crop and its appearance vector (:mod:`detect.appearance`). :func:`search` finds sightings
by class, colour, camera, zone and time, a colour search ranking the crops by that colour's
share; :func:`similar` ranks sightings of every camera by how alike they look to one.
Retention follows the footage's (:func:`delete_before`, from the recording retention sweep).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS sightings (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT NOT NULL,
    track_id    INTEGER NOT NULL,
    class_name  TEXT NOT NULL,
    confidence  REAL NOT NULL,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    best_at     REAL NOT NULL,
    box         TEXT NOT NULL,
    zones       TEXT NOT NULL,
    colours     TEXT NOT NULL,
    appearance  BLOB NOT NULL,
    crop        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sightings_time ON sightings (best_at);
CREATE INDEX IF NOT EXISTS sightings_camera_time ON sightings (camera_id, best_at);
CREATE INDEX IF NOT EXISTS sightings_class_time ON sightings (class_name, best_at);
"""

Vector = npt.NDArray[np.float32]
MIN_COLOUR_SHARE = 0.15
"""A colour search finds crops where the colour holds at least this share."""
SIMILAR_POOL = 5000
""""More like this" compares against at most this many sightings (the newest in the window)."""


@dataclass(frozen=True, slots=True)
class NewSighting:
    """A track's best sighting, about to be stored; ``crop_jpeg`` is its picture."""

    camera_id: str
    track_id: int
    class_name: str
    confidence: float
    first_seen: float
    last_seen: float
    best_at: float
    box: tuple[float, float, float, float]
    zones: tuple[str, ...]
    colours: dict[str, float]
    appearance: Vector
    crop_jpeg: bytes


@dataclass(frozen=True, slots=True)
class SightingRecord:
    """A sighting as stored (without its picture and vector)."""

    id: int
    camera_id: str
    track_id: int
    class_name: str
    confidence: float
    first_seen: float
    last_seen: float
    best_at: float
    box: tuple[float, float, float, float]
    zones: tuple[str, ...]
    colours: dict[str, float]

    def dominant(self) -> list[str]:
        """Its colours holding :data:`MIN_COLOUR_SHARE` or more, the largest first."""
        named = [name for name, share in self.colours.items() if share >= MIN_COLOUR_SHARE]
        return sorted(named, key=lambda name: -self.colours[name])


_COLUMNS = (
    "id, camera_id, track_id, class_name, confidence, first_seen, last_seen, best_at, box,"
    " zones, colours"
)


def _record(row: tuple[object, ...]) -> SightingRecord:
    box = json.loads(str(row[8]))
    zones = str(row[9])
    return SightingRecord(
        id=int(str(row[0])),
        camera_id=str(row[1]),
        track_id=int(str(row[2])),
        class_name=str(row[3]),
        confidence=float(str(row[4])),
        first_seen=float(str(row[5])),
        last_seen=float(str(row[6])),
        best_at=float(str(row[7])),
        box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
        zones=tuple(zones.split(",")) if zones else (),
        colours={str(k): float(v) for k, v in json.loads(str(row[10])).items()},
    )


def add_sighting(store: Store, sighting: NewSighting) -> int:
    """Store one track's best sighting; returns its id."""
    colours = {name: round(share, 4) for name, share in sighting.colours.items()}
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO sightings (camera_id, track_id, class_name, confidence, first_seen,"
            " last_seen, best_at, box, zones, colours, appearance, crop)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                sighting.camera_id,
                sighting.track_id,
                sighting.class_name,
                sighting.confidence,
                sighting.first_seen,
                sighting.last_seen,
                sighting.best_at,
                json.dumps([round(v, 1) for v in sighting.box]),
                ",".join(sighting.zones),
                json.dumps(colours, sort_keys=True),
                np.asarray(sighting.appearance, np.float32).tobytes(),
                sighting.crop_jpeg,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


@dataclass(frozen=True, slots=True)
class SightingQuery:
    """A search: every field narrows it; ``cameras`` None means every camera."""

    class_name: str | None = None
    colour: str | None = None
    cameras: tuple[str, ...] | None = None
    zone: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100


def _where(query: SightingQuery) -> tuple[str, list[object]] | None:
    clauses: list[str] = []
    params: list[object] = []
    if query.class_name:
        clauses.append("class_name = ?")
        params.append(query.class_name)
    if query.cameras is not None:
        if not query.cameras:
            return None
        clauses.append(f"camera_id IN ({','.join('?' * len(query.cameras))})")
        params.extend(query.cameras)
    if query.zone:
        clauses.append("(',' || zones || ',') LIKE ?")
        params.append(f"%,{query.zone},%")
    if query.since is not None:
        clauses.append("last_seen >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("first_seen <= ?")
        params.append(query.until)
    if query.colour:
        clauses.append("CAST(json_extract(colours, ?) AS REAL) >= ?")
        params.extend((f"$.{query.colour}", MIN_COLOUR_SHARE))
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def search(store: Store, query: SightingQuery) -> list[SightingRecord]:
    """The sightings that match: by the colour's share when a colour is asked (the most
    coloured first), else newest first."""
    where = _where(query)
    if where is None:
        return []
    clause, params = where
    order = "best_at DESC, id DESC"
    if query.colour:
        order = "CAST(json_extract(colours, ?) AS REAL) DESC, best_at DESC"
        params = [*params, f"$.{query.colour}"]
    rows = store.read(
        f"SELECT {_COLUMNS} FROM sightings {clause} ORDER BY {order} LIMIT ?",
        (*params, query.limit),
    )
    return [_record(tuple(row)) for row in rows]


def sighting(store: Store, sighting_id: int) -> SightingRecord | None:
    rows = store.read(f"SELECT {_COLUMNS} FROM sightings WHERE id = ?", (sighting_id,))
    return _record(tuple(rows[0])) if rows else None


def crop(store: Store, sighting_id: int) -> bytes | None:
    rows = store.read("SELECT crop FROM sightings WHERE id = ?", (sighting_id,))
    return bytes(rows[0][0]) if rows else None


def similar(
    store: Store, sighting_id: int, query: SightingQuery
) -> list[tuple[SightingRecord, float]]:
    """The sightings matching ``query`` (of the same class as the one asked about unless the
    query names one), ranked by how alike they look to it: (sighting, cosine similarity),
    the most alike first; the sighting itself is left out."""
    found = store.read("SELECT appearance, class_name FROM sightings WHERE id = ?", (sighting_id,))
    if not found:
        return []
    target = np.frombuffer(found[0][0], np.float32)
    query = SightingQuery(
        class_name=query.class_name or str(found[0][1]),
        colour=query.colour,
        cameras=query.cameras,
        zone=query.zone,
        since=query.since,
        until=query.until,
        limit=query.limit,
    )
    where = _where(query)
    if where is None:
        return []
    clause, params = where
    rows = store.read(
        f"SELECT {_COLUMNS}, appearance FROM sightings {clause} ORDER BY best_at DESC LIMIT ?",
        (*params, SIMILAR_POOL),
    )
    ranked: list[tuple[SightingRecord, float]] = []
    for row in rows:
        if int(row[0]) == sighting_id:
            continue
        vector = np.frombuffer(row[11], np.float32)
        score = float(np.dot(target, vector)) if vector.shape == target.shape else 0.0
        ranked.append((_record(tuple(row)[:11]), score))
    ranked.sort(key=lambda pair: -pair[1])
    return ranked[: query.limit]


def class_names(store: Store, cameras: tuple[str, ...] | None) -> list[str]:
    """The classes of the sightings kept of ``cameras`` (None: every camera), sorted."""
    if cameras is not None and not cameras:
        return []
    clause, params = "", tuple(cameras or ())
    if cameras is not None:
        clause = f"WHERE camera_id IN ({','.join('?' * len(cameras))})"
    rows = store.read(
        f"SELECT DISTINCT class_name FROM sightings {clause} ORDER BY class_name", params
    )
    return [str(row[0]) for row in rows]


def delete_before(store: Store, camera_id: str | None, before: float) -> int:
    """Forget the sightings (of one camera, or all) last seen before ``before``; returns
    how many."""
    with store.transaction() as db:
        if camera_id is None:
            cursor = db.execute("DELETE FROM sightings WHERE last_seen < ?", (before,))
        else:
            cursor = db.execute(
                "DELETE FROM sightings WHERE camera_id = ? AND last_seen < ?", (camera_id, before)
            )
        return cursor.rowcount
