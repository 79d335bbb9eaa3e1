"""The push routes' bodies and answers (:mod:`dashboard.routes.push`), checked at the edge.

A subscription is what the browser's ``PushSubscription.toJSON()`` gives: an ``endpoint`` and
two base64url keys. The endpoint must be an https URL (push services are on the internet,
and a plain-http endpoint would let the dashboard be pointed at the station's own LAN); a
plain-http one on this machine is let through only where :class:`PushPolicy` allows it for
tests. The keys must decode to what RFC 8291 says they are: ``p256dh`` a P-256 point (65
bytes), ``auth`` a 16-byte secret.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, Field, field_validator

from common.alert_writer import AlertKind
from common.messages import Severity
from common.push_subscriptions import PushFilters, PushSubscription

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
B64URL = r"^[A-Za-z0-9_-]+={0,2}$"
Name = Annotated[str, Field(min_length=1, max_length=64)]


def b64url_bytes(text: str) -> bytes:
    """Base64url, padded or not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error


class KeysIn(BaseModel):
    """The browser's keys for this subscription."""

    model_config = {"extra": "forbid"}
    p256dh: str = Field(min_length=86, max_length=88, pattern=B64URL)
    auth: str = Field(min_length=22, max_length=24, pattern=B64URL)

    @field_validator("p256dh")
    @classmethod
    def _a_p256_point(cls, value: str) -> str:
        point = b64url_bytes(value)
        if len(point) != 65:
            raise ValueError("p256dh must be an uncompressed P-256 point (65 bytes)")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)  # ValueError if not
        return value

    @field_validator("auth")
    @classmethod
    def _sixteen_bytes(cls, value: str) -> str:
        if len(b64url_bytes(value)) != 16:
            raise ValueError("auth must be 16 bytes")
        return value


class SubscriptionIn(BaseModel):
    """``PushSubscription.toJSON()``."""

    model_config = {"extra": "forbid"}
    endpoint: str = Field(min_length=12, max_length=1024)
    expirationTime: float | None = None  # noqa: N815 (the browser's name)
    keys: KeysIn

    @field_validator("endpoint")
    @classmethod
    def _a_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("the endpoint must be an https URL")
        if parts.username or parts.password or parts.fragment:
            raise ValueError("the endpoint must not carry credentials or a fragment")
        return value

    def is_plain_loopback(self) -> bool:
        """An http endpoint on this machine: allowed only where the push policy says."""
        parts = urlsplit(self.endpoint)
        return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS

    def is_https(self) -> bool:
        return urlsplit(self.endpoint).scheme == "https"


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class FiltersIn(BaseModel):
    """Which alerts this browser gets: each list empty for all (of the user's areas)."""

    model_config = {"extra": "forbid"}
    cameras: list[Name] = Field(default_factory=list, max_length=200)
    kinds: list[AlertKind] = Field(default_factory=list, max_length=20)
    rules: list[Name] = Field(default_factory=list, max_length=200)
    min_severity: Severity = Severity.INFO
    allow_picture: bool = False

    def filters(self) -> PushFilters:
        """The filters, each list without repeats (in the order given)."""
        return PushFilters(
            cameras=_unique(self.cameras),
            kinds=_unique([kind.value for kind in self.kinds]),
            rules=_unique(self.rules),
            min_severity=self.min_severity,
            allow_picture=self.allow_picture,
        )


class PushIn(BaseModel):
    """Turn push on for this browser, with its filters."""

    model_config = {"extra": "forbid"}
    subscription: SubscriptionIn
    filters: FiltersIn = Field(default_factory=FiltersIn)


class KeyOut(BaseModel):
    """The ``applicationServerKey`` for ``pushManager.subscribe``."""

    public_key: str


class FiltersOut(BaseModel):
    cameras: list[str]
    kinds: list[str]
    rules: list[str]
    min_severity: Severity
    allow_picture: bool

    @classmethod
    def of(cls, filters: PushFilters) -> FiltersOut:
        return cls(
            cameras=list(filters.cameras),
            kinds=list(filters.kinds),
            rules=list(filters.rules),
            min_severity=filters.min_severity,
            allow_picture=filters.allow_picture,
        )


class SubscriptionOut(BaseModel):
    """One of the user's subscriptions; ``endpoint`` lets a page know its own browser's."""

    id: int
    endpoint: str
    push_service: str
    created_at: float
    filters: FiltersOut

    @classmethod
    def of(cls, subscription: PushSubscription) -> SubscriptionOut:
        return cls(
            id=subscription.id,
            endpoint=subscription.endpoint,
            push_service=subscription.push_service,
            created_at=subscription.created_at,
            filters=FiltersOut.of(subscription.filters),
        )
