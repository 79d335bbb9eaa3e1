"""Who may read the machine-facing health routes, and how much of them.

``/metrics`` names every camera with its state, motion and who watches it live, so it needs
either the scrape token or an admin's session:

- the token is read from the environment variable that ``dashboard.metrics_token_env`` names
  (``MATTHAN_METRICS_TOKEN`` by default; the YAML never holds it) and sent by Prometheus as
  ``Authorization: Bearer <token>``;
- while that variable is unset, only an admin logged in to the page may read /metrics.

``/readyz`` gives its details (roles, ages, reasons) to the token or any logged-in user; to
anyone else only ready or not, and only while ``dashboard.public_health`` is on.
"""

from __future__ import annotations

import hmac
import os
from enum import Enum
from typing import Annotated

from fastapi import Depends, Request

from common.accounts import Role
from common.config import DashboardConfig
from dashboard.auth import connection_session
from dashboard.state import State

MIN_TOKEN_LENGTH = 16


class MetricsTokenError(ValueError):
    """The token variable is set but too short to be a secret."""


def metrics_token(config: DashboardConfig) -> str | None:
    """The scrape token, or None when no variable is named or it is unset or empty.

    Raises :class:`MetricsTokenError` for a token shorter than :data:`MIN_TOKEN_LENGTH`.
    """
    return token_in_env(config.metrics_token_env)


def token_in_env(variable: str | None, key: str = "dashboard.metrics_token_env") -> str | None:
    """The token in environment variable ``variable`` (named by the config's ``key``), or
    None when none is named or it is unset or empty; :class:`MetricsTokenError` when short."""
    if variable is None:
        return None
    token = os.environ.get(variable, "")
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise MetricsTokenError(
            f"environment variable {variable} ({key})"
            f" holds {len(token)} characters; a token needs {MIN_TOKEN_LENGTH} or more"
            " (make one with `openssl rand -hex 24`)"
        )
    return token or None


def bearer_matches(request: Request, variable: str | None) -> bool:
    """Whether the request carries ``Authorization: Bearer`` with the token in ``variable``
    (compared in constant time); never with no token or a short one."""
    try:
        token = token_in_env(variable)
    except MetricsTokenError:
        return False  # the service refuses to start with it; never accept a short one
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if token is None or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class Caller(Enum):
    """Who asks for a health route, from least to most trusted."""

    ANONYMOUS = 0
    USER = 1
    """Logged in, not an admin."""
    TRUSTED = 2
    """The scrape token, or an admin's session."""


def health_caller(request: Request, state: State) -> Caller:
    if bearer_matches(request, state.site.dashboard.metrics_token_env):
        return Caller.TRUSTED
    session = connection_session(state, request)
    if session is None:
        return Caller.ANONYMOUS
    return Caller.TRUSTED if session.user.role is Role.ADMIN else Caller.USER


HealthCaller = Annotated[Caller, Depends(health_caller)]
