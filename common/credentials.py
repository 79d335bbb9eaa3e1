"""Camera logins: read from the environment at connect time, never written anywhere."""

from __future__ import annotations

import os
from urllib.parse import quote


class MissingCredentialsError(KeyError):
    """A camera names an environment variable for its login that is not set."""


def url_with_login(url: str, username_env: str | None, password_env: str | None) -> str:
    """``url`` with the login from the named environment variables. Never log the result."""
    if username_env is None or password_env is None:
        return url
    missing = [name for name in (username_env, password_env) if name not in os.environ]
    if missing:
        raise MissingCredentialsError(f"environment variable {missing[0]} is not set")
    user = quote(os.environ[username_env], safe="")
    password = quote(os.environ[password_env], safe="")
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"
