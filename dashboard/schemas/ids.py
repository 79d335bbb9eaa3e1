"""Ids in paths and queries, bounded to what the store can hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

SQLITE_MAX_INTEGER = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="a row id of the store")]
"""An id in a path (alert, segment): one beyond SQLite's 64-bit range would not even reach
the query (the driver raises OverflowError, a 500); bounded here, it is answered 422."""
