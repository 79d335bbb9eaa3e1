"""The HTTP edge for logins, users and the audit log, as pydantic models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.accounts import Role, Session, User
from common.audit import AuditEntry, Detail

Language = Literal["vi", "en"]


class StrictIn(BaseModel):
    """Request bodies refuse unknown fields, like the config does."""

    model_config = ConfigDict(extra="forbid")


class LoginIn(StrictIn):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class LanguageIn(StrictIn):
    language: Language


class MeOut(BaseModel):
    """The logged-in user, and the token the page sends back on every change."""

    username: str
    role: Role
    areas: list[str]
    language: str
    csrf_token: str

    @classmethod
    def of(cls, session: Session) -> MeOut:
        user = session.user
        return cls(
            username=user.username,
            role=user.role,
            areas=list(user.areas),
            language=user.language,
            csrf_token=session.csrf_token,
        )


class UserOut(BaseModel):
    username: str
    role: Role
    areas: list[str]
    language: str
    disabled: bool
    created_at: float

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            username=user.username,
            role=user.role,
            areas=list(user.areas),
            language=user.language,
            disabled=user.disabled,
            created_at=user.created_at,
        )


class UserIn(StrictIn):
    """A new user, created by an admin."""

    username: str = Field(max_length=32)
    password: str = Field(max_length=256)
    role: Role
    areas: list[str] = Field(default_factory=list, max_length=100)
    language: Language = "vi"


class UserChangeIn(StrictIn):
    """What an admin changes on a user; omitted fields stay as they are."""

    role: Role | None = None
    areas: list[str] | None = Field(default=None, max_length=100)
    disabled: bool | None = None
    password: str | None = Field(default=None, max_length=256)


class AuditOut(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: Detail
    address: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            detail=entry.detail,
            address=entry.address,
        )


class ClosedOut(BaseModel):
    """How many sessions were ended."""

    closed: int
