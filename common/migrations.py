"""The store's schema, brought up to date when a store opens.

Two lists, both in order. :data:`TABLES`: every table module's statements, all idempotent
(``CREATE ... IF NOT EXISTS``), run at every open, so a table added to the program appears in
an old file. :data:`MIGRATIONS`: the changes to tables that exist, each keyed to the schema
version (SQLite's ``user_version``) that has it; a file at version ``v`` gets every migration
above ``v``, once, in the same transaction as the tables, and then the program's version.

Statements are split whole (:func:`statements`, by :func:`sqlite3.complete_statement`), so a
trigger, whose body holds ``;``, is one statement like any other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common import (
    accounts,
    alert_rows,
    audit,
    camera_states,
    case_exports,
    cases,
    cluster_nodes,
    findings_migration,
    heartbeat,
    jobs,
    plates,
    push_subscriptions,
    recordings,
    sightings,
    wall_layouts,
)
from common.audit_chain import chain_existing_rows
from common.db import StoreError

if TYPE_CHECKING:
    from common.db import Database

AUDIT_GUARDS = "\n".join(
    f"{trigger};" for table in audit.APPEND_ONLY for trigger in audit.guard_statements(table)
)
"""The triggers that keep the audit log and the reviews append-only (whole statements)."""

TABLES: tuple[str, ...] = (
    alert_rows.SCHEMA,
    camera_states.SCHEMA,
    accounts.SCHEMA,
    recordings.SCHEMA,
    jobs.SCHEMA,
    plates.SCHEMA,
    sightings.SCHEMA,
    push_subscriptions.SCHEMA,
    cases.SCHEMA,
    case_exports.SCHEMA,
    heartbeat.SCHEMA_SQL,
    wall_layouts.SCHEMA,
    cluster_nodes.SCHEMA,
    AUDIT_GUARDS,
)


@dataclass(frozen=True, slots=True)
class Migration:
    """A change to tables that exist: ``apply`` brings a file to ``version``."""

    version: int
    what: str
    apply: Callable[[sqlite3.Connection], None]


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _add_triggered_at(db: sqlite3.Connection) -> None:
    if "triggered_at" not in _columns(db, "alerts"):
        db.execute("ALTER TABLE alerts ADD COLUMN triggered_at REAL")


def _add_alert_uid(db: sqlite3.Connection) -> None:
    if "uid" not in _columns(db, "alerts"):
        db.execute("ALTER TABLE alerts ADD COLUMN uid TEXT")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS alerts_uid ON alerts (uid) WHERE uid IS NOT NULL")


def _chain_audit_log(db: sqlite3.Connection) -> None:
    chain_existing_rows(db)


def _add_job_columns(db: sqlite3.Connection) -> None:
    jobs.add_missing_columns(db)


def _add_node_footage(db: sqlite3.Connection) -> None:
    """The station indexes its nodes' footage: ``segments.node``/``remote_id``,
    ``cluster_nodes.footage_url``, and a node's outbox cursor of segments sent (only a node's
    store has ``alert_outbox``; :mod:`common.alert_outbox` makes it with the column)."""
    recordings.add_missing_columns(db)
    cluster_nodes.add_missing_columns(db)
    outbox = _columns(db, "alert_outbox")
    if outbox and "segments_through" not in outbox:
        db.execute(
            "ALTER TABLE alert_outbox ADD COLUMN segments_through INTEGER NOT NULL DEFAULT 0"
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2, "alerts.triggered_at: when the frame that raised the alert was taken", _add_triggered_at
    ),
    Migration(3, "the audit log's hash chain, over the rows it has", _chain_audit_log),
    Migration(4, "alerts.uid: a producer's own id, one alert per uid", _add_alert_uid),
    Migration(
        5, "analysis_jobs: the columns added after its first release", jobs.add_missing_columns
    ),
    Migration(6, "the nodes' footage indexed at the station", _add_node_footage),
    Migration(
        7,
        "re-analysis findings: rows of alerts with their job_id (job_alerts dropped)",
        findings_migration.move_findings_into_alerts,
    ),
    Migration(
        8,
        "cluster_nodes.origin: the node store's origin, to end a lost node's open alerts",
        cluster_nodes.add_missing_columns,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
"""The schema this program writes; a file of a newer one is refused, not changed."""


def statements(script: str) -> list[str]:
    """``script`` as whole statements (a trigger's ``BEGIN ... ; END`` stays one)."""
    found, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip().rstrip(";").strip():
                found.append(current.strip())
            current = ""
    if current.strip():
        found.append(current.strip())
    return found


def migrate(store: Database) -> None:
    """Bring the store's file to :data:`SCHEMA_VERSION` (see the module's docstring)."""
    with store.transaction() as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{store.path} has schema {version}, newer than this program")
        for part in TABLES:
            for statement in statements(part):
                db.execute(statement)
        for migration in MIGRATIONS:
            if version < migration.version:
                migration.apply(db)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
