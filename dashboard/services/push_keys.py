"""The dashboard's VAPID key pair (RFC 8292): how push services know pushes come from us.

A browser subscribes with the dashboard's public key (``applicationServerKey``); from then on
its push service accepts a message for that subscription only with an ``Authorization`` header
signed by the matching private key. The pair is made on the first start and kept next to the
store (``vapid.pem``, readable by its owner only, like the self-signed TLS key of
:mod:`dashboard.certificate`): a new pair would orphan every subscription, since each browser
subscribed with the old public key.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

FILE_NAME = "vapid.pem"


def key_path(database: Path) -> Path:
    """Where the store at ``database`` keeps its VAPID private key."""
    return database.resolve().parent / FILE_NAME


def b64url(data: bytes) -> str:
    """Base64url without padding: how Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class VapidKeys:
    """The private key as PKCS#8 PEM (what :mod:`pywebpush` signs with) and the public key
    as the browser wants it: the uncompressed P-256 point, base64url."""

    private_pem: bytes
    public_key: str


def _write_private(path: Path, pem: bytes) -> None:
    """Write-then-rename, the file made 0600 before a byte of the key is in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    os.replace(temporary, path)


def load_or_make(path: Path) -> VapidKeys:
    """The key pair at ``path``, made there first if there is none."""
    if path.exists():
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(
            private.curve, ec.SECP256R1
        ):
            raise ValueError(f"{path} is not a P-256 private key")
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        _write_private(
            path,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(pem, b64url(point))
