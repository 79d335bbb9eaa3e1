"""Users and their sessions, and the tables of everything people do (audit, alert reviews).

Passwords are hashed with Argon2id (argon2-cffi's :class:`PasswordHasher`, memory-hard,
its own salt per hash); an old-parameter hash is upgraded at the next good login. A
session is a random token held by the browser in a cookie; the store keeps only its
SHA-256, so a copy of the database does not let anyone in, and deleting the row (logout,
password change, disabled user) ends the session at the next request. A session's
``expires_at`` is its idle deadline, moved forward as it is used
(:meth:`Accounts.touch_session`) up to its lifetime. Passwords must pass
:mod:`common.password_policy` (long enough, not a common one, not the user name).

Every change to a user is written to the audit log in the same transaction. The schema
below runs when a :class:`~common.store.Store` opens; :class:`Accounts` adds the
append-only triggers, which the store's schema runner cannot run.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common import audit, password_policy
from common.audit import Action

if TYPE_CHECKING:
    from common.store import Store

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    areas         TEXT NOT NULL DEFAULT '[]',
    language      TEXT NOT NULL DEFAULT 'vi',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    csrf_token  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,
    address     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS alert_reviews (
    id          INTEGER PRIMARY KEY,
    alert_id    INTEGER NOT NULL REFERENCES alerts (id),
    action      TEXT NOT NULL,
    username    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    at          REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_reviews_alert ON alert_reviews (alert_id);
"""
    + audit.SCHEMA
)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
LANGUAGES = ("vi", "en")
TOUCH_EVERY_S = 60.0
"""A session's idle deadline is moved forward at most this often (a write per minute, not
per request)."""


class AccountError(ValueError):
    """A user cannot be created or changed as asked."""


class UnknownUserError(AccountError, LookupError):
    """No user has this name."""


class WeakPasswordError(AccountError):
    """A password the policy refuses (:mod:`common.password_policy`); ``code`` says why."""

    def __init__(self, weakness: password_policy.Weakness) -> None:
        super().__init__(weakness.message)
        self.code = weakness.code


class Role(StrEnum):
    """What a user may do: each role may do everything the ones before it may."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class User:
    """A user as stored, without the password hash.

    ``areas`` scopes a viewer or operator to the cameras of those areas; empty means
    every camera. An admin always sees every camera.
    """

    id: int
    username: str
    role: Role
    areas: tuple[str, ...]
    language: str
    disabled: bool
    created_at: float

    def sees_area(self, area: str) -> bool:
        return self.role is Role.ADMIN or not self.areas or area in self.areas


@dataclass(frozen=True, slots=True)
class Session:
    """A live login: who, the token the page must echo on changes, and until when."""

    user: User
    csrf_token: str
    expires_at: float


_USER_COLUMNS = "id, username, role, areas, language, disabled, created_at"


def _user_from_row(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        areas=tuple(json.loads(row["areas"])),
        language=row["language"],
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str, username: str) -> str:
    """The password if the policy takes it for this user, else :class:`WeakPasswordError`."""
    weakness = password_policy.weakness(password, username)
    if weakness is not None:
        raise WeakPasswordError(weakness)
    return password


class Accounts:
    """Users, passwords and sessions over one :class:`~common.store.Store`."""

    def __init__(self, store: Store, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self._hasher = hasher or PasswordHasher()
        audit.install_guards(store)

    @cached_property
    def _dummy_hash(self) -> str:
        """A hash to verify against for unknown names (made once, when first needed)."""
        return self._hasher.hash(secrets.token_hex(16))

    def add_user(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        actor: str,
        areas: tuple[str, ...] = (),
        language: str = "vi",
        address: str = "",
    ) -> User:
        """Create a user; :class:`AccountError` for a bad or taken name or a short password."""
        if not USERNAME.match(username):
            raise AccountError("a user name is 2-32 of a-z 0-9 . _ - starting with a letter/digit")
        if language not in LANGUAGES:
            raise AccountError(f"language must be one of {LANGUAGES}")
        password_hash = self._hasher.hash(check_password(password, username))
        detail: audit.Detail = {"role": role.value, "areas": list(areas)}
        try:
            with self.store.transaction() as db:
                db.execute(
                    "INSERT INTO users (username, password_hash, role, areas, language,"
                    " created_at) VALUES (?,?,?,?,?,?)",
                    (username, password_hash, role.value, json.dumps(areas), language, time.time()),
                )
                audit.append(
                    db, Action.USER_ADD, actor, target=username, detail=detail, address=address
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"user {username!r} exists already") from None
        return self.require(username)

    def user(self, username: str) -> User | None:
        rows = self.store.read(f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?", (username,))
        return _user_from_row(rows[0]) if rows else None

    def require(self, username: str) -> User:
        """The user, or :class:`UnknownUserError`."""
        user = self.user(username)
        if user is None:
            raise UnknownUserError(f"no user {username!r}")
        return user

    def users(self) -> list[User]:
        rows = self.store.read(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")
        return [_user_from_row(row) for row in rows]

    def change_user(
        self,
        username: str,
        *,
        actor: str,
        role: Role | None = None,
        areas: tuple[str, ...] | None = None,
        disabled: bool | None = None,
        address: str = "",
    ) -> User:
        """Change role, areas or disabled; any change ends the user's sessions."""
        user = self.require(username)
        role = role or user.role
        areas = user.areas if areas is None else areas
        disabled = user.disabled if disabled is None else disabled
        detail: audit.Detail = {"role": role.value, "areas": list(areas), "disabled": disabled}
        with self.store.transaction() as db:
            db.execute(
                "UPDATE users SET role=?, areas=?, disabled=? WHERE id=?",
                (role.value, json.dumps(areas), int(disabled), user.id),
            )
            db.execute("DELETE FROM sessions WHERE user_id=?", (user.id,))
            audit.append(
                db, Action.USER_CHANGE, actor, target=username, detail=detail, address=address
            )
        return self.require(username)

    def set_password(self, username: str, password: str, *, actor: str, address: str = "") -> None:
        """Replace the password and end every session of the user."""
        user = self.require(username)
        password_hash = self._hasher.hash(check_password(password, username))
        with self.store.transaction() as db:
            db.execute("UPDATE users SET password_hash=? WHERE id=?", (password_hash, user.id))
            db.execute("DELETE FROM sessions WHERE user_id=?", (user.id,))
            audit.append(db, Action.USER_PASSWORD, actor, target=username, address=address)

    def set_language(self, user: User, language: str) -> None:
        """Remember the user's page language (not audited: it changes nothing for others)."""
        if language not in LANGUAGES:
            raise AccountError(f"language must be one of {LANGUAGES}")
        with self.store.transaction() as db:
            db.execute("UPDATE users SET language=? WHERE id=?", (language, user.id))

    def authenticate(self, username: str, password: str) -> User | None:
        """The enabled user whose password this is, else None.

        An unknown name still costs one hash verification, so the answer's timing does
        not tell which names exist.
        """
        rows = self.store.read("SELECT id, password_hash FROM users WHERE username=?", (username,))
        stored = rows[0]["password_hash"] if rows else self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        user = self.user(username) if rows else None
        if user is None or user.disabled:
            return None
        if self._hasher.check_needs_rehash(stored):
            with self.store.transaction() as db:
                db.execute(
                    "UPDATE users SET password_hash=? WHERE id=?",
                    (self._hasher.hash(password), user.id),
                )
        return user

    def open_session(self, user: User, lifetime_s: float, address: str) -> tuple[str, Session]:
        """A new session: the token for the cookie, and the session it opens."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(user, secrets.token_urlsafe(32), now + lifetime_s)
        with self.store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            db.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at,"
                " address) VALUES (?,?,?,?,?,?)",
                (_token_hash(token), user.id, session.csrf_token, now, session.expires_at, address),
            )
        return token, session

    def _live_session(self, token: str) -> sqlite3.Row | None:
        rows = self.store.read(
            "SELECT s.csrf_token, s.expires_at, s.created_at AS opened_at, u.id, u.username,"
            " u.role, u.areas, u.language, u.disabled, u.created_at"
            " FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0",
            (_token_hash(token), time.time()),
        )
        return rows[0] if rows else None

    def session(self, token: str) -> Session | None:
        """The live session of a cookie token: unexpired, of an enabled user; else None."""
        row = self._live_session(token)
        if row is None:
            return None
        return Session(_user_from_row(row), row["csrf_token"], row["expires_at"])

    def touch_session(self, token: str, idle_s: float, lifetime_s: float) -> Session | None:
        """The live session of a cookie token, used now: it ends ``idle_s`` from now unless
        used again, and ``lifetime_s`` after login at the latest.

        ``expires_at`` is that idle deadline; it is written only when it moves by
        :data:`TOUCH_EVERY_S` (or a quarter of ``idle_s``, if less), so a page's requests
        cost no write each.
        """
        row = self._live_session(token)
        if row is None:
            return None
        expires_at = row["expires_at"]
        deadline = min(time.time() + idle_s, row["opened_at"] + lifetime_s)
        if deadline - expires_at >= min(TOUCH_EVERY_S, idle_s / 4):
            with self.store.transaction() as db:
                db.execute(
                    "UPDATE sessions SET expires_at = ? WHERE token_hash = ? AND expires_at > ?",
                    (deadline, _token_hash(token), time.time()),
                )
            expires_at = deadline
        return Session(_user_from_row(row), row["csrf_token"], expires_at)

    def close_session(self, token: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE token_hash=?", (_token_hash(token),))

    def close_other_sessions(self, user: User, token: str) -> int:
        """End every session of ``user`` but the one of ``token`` (a browser left logged in
        on another desk, a lost phone); returns how many were ended."""
        with self.store.transaction() as db:
            cursor = db.execute(
                "DELETE FROM sessions WHERE user_id=? AND token_hash != ?",
                (user.id, _token_hash(token)),
            )
        return cursor.rowcount
