"""``matthan audit verify``: check the audit log's hash chain (see :mod:`common.audit`).

Prints ``ok, N rows`` and the head hash (note it somewhere else: rows cut off at the end
leave no break to find) and exits 0; or prints the first row where the chain breaks and
what is wrong with it, and exits 1. A config problem exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.audit_chain import verify_chain
from common.config_loader import ConfigError, load_site
from common.store import Store


def verify(args: argparse.Namespace) -> int:
    try:
        site = load_site(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    store = Store(site.storage.database)
    try:
        check = verify_chain(store)
    finally:
        store.close()
    if check.broken is not None:
        print(
            f"audit log broken at row {check.broken.row_id} (after {check.rows} good rows):"
            f" {check.broken.problem}",
            file=sys.stderr,
        )
        return 1
    print(f"ok, {check.rows} rows; head {check.head}")
    return 0


def add_audit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``matthan audit verify``."""
    audit = commands.add_parser("audit", help="the audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    check = actions.add_parser("verify", help="check the audit log's hash chain")
    check.add_argument("-c", "--config", type=Path, required=True)
    check.set_defaults(handler=verify)
