"""One logging format for every process, with the role in each line."""

from __future__ import annotations

import logging


def setup_logging(role: str, level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s %(levelname)-7s {role:<10} %(name)s: %(message)s",
        force=True,
    )
