"""Checking and building the audit log's hash chain (see :mod:`common.audit`).

:func:`verify_chain` walks the log oldest first and recomputes every row's hash; the first
row whose ``prev_hash`` is not the hash of the row before it, or whose fields no longer
give its ``hash``, is where the log was changed. :func:`chain_existing_rows` is the
migration that gives a log written before the chain its hashes, in id order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.audit import GENESIS, guard_statements, row_hash

if TYPE_CHECKING:
    from common.store import Store

_COLUMNS = "id, at, actor, action, target, detail, address, prev_hash, hash"
BATCH = 1000


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first row where the chain does not hold, and what is wrong with it."""

    row_id: int
    problem: str


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """How many rows were checked and found whole, the last good hash, the first break."""

    rows: int
    head: str
    broken: ChainBreak | None


def _computed(row: sqlite3.Row, prev_hash: str) -> str:
    """The hash the row's stored fields give after ``prev_hash``."""
    return row_hash(
        row_id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        detail=row["detail"],
        address=row["address"],
        prev_hash=prev_hash,
    )


def _rows(store: Store) -> Iterator[sqlite3.Row]:
    """Every row oldest first, read in batches (the log may be long)."""
    last_id = 0
    while True:
        batch = store.read(
            f"SELECT {_COLUMNS} FROM audit_log WHERE id > ? ORDER BY id LIMIT ?", (last_id, BATCH)
        )
        if not batch:
            return
        yield from batch
        last_id = batch[-1]["id"]


def verify_chain(store: Store) -> ChainCheck:
    """Recompute the chain; stops at the first row that breaks it."""
    previous, count = GENESIS, 0
    for row in _rows(store):
        if row["prev_hash"] != previous:
            problem = (
                f"prev_hash {row['prev_hash'][:16]}... is not the hash of the row before it"
                f" ({previous[:16]}...): a row before it was removed, inserted or rewritten"
            )
            return ChainCheck(count, previous, ChainBreak(row["id"], problem))
        if row["hash"] != _computed(row, row["prev_hash"]):
            problem = (
                f"its fields (at, actor, action, target, detail, address) no longer give its"
                f" hash {row['hash'][:16]}...: the row was changed after it was written"
            )
            return ChainCheck(count, previous, ChainBreak(row["id"], problem))
        previous, count = row["hash"], count + 1
    return ChainCheck(count, previous, None)


def chain_existing_rows(db: sqlite3.Connection) -> int:
    """Add the chain's columns to an audit log made before them and hash its rows in id
    order; returns how many. Runs inside the store's migration transaction, once (schema
    version 3): the append-only trigger on UPDATE is dropped for it and put back."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(audit_log)")}
    for column in ("prev_hash", "hash"):
        if column not in columns:
            db.execute(f"ALTER TABLE audit_log ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    previous, count = GENESIS, 0
    for row in db.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY id").fetchall():
        digest = _computed(row, previous)
        db.execute(
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", (previous, digest, row[0])
        )
        previous, count = digest, count + 1
    for statement in guard_statements("audit_log"):
        db.execute(statement)
    return count
