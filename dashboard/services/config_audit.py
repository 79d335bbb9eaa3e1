"""Config changes in the audit log.

The site is configured by editing its YAML file and restarting, so the dashboard notes a
change when it starts: it hashes the validated config and, when the hash differs from the
last one logged, appends a ``config.changed`` row (actor ``system``) with the new hash.
"""

from __future__ import annotations

import hashlib

from common import audit
from common.audit import Action
from common.config import SiteConfig
from common.store import Store


def config_digest(site: SiteConfig) -> str:
    """A short hash of the config as validated (comments and layout do not count)."""
    return "sha256:" + hashlib.sha256(site.model_dump_json().encode()).hexdigest()[:16]


def audit_config(store: Store, site: SiteConfig) -> None:
    """Log the config if it is not the one logged last."""
    digest = config_digest(site)
    last = audit.latest(store, Action.CONFIG_CHANGED)
    if last is not None and last.target == digest:
        return
    rules = sum(len(camera.rules) for camera in site.cameras)
    detail: audit.Detail = {"cameras": len(site.cameras), "rules": rules}
    audit.record(store, Action.CONFIG_CHANGED, "system", target=digest, detail=detail)
