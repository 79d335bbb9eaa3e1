"""A push service on 127.0.0.1 for the push tests, and the browser's side of a subscription.

:class:`Browser` is what a browser makes when it subscribes (RFC 8291): a P-256 key pair and a
16-byte auth secret; only it can decrypt what is pushed to it. :class:`PushEndpoint` is a
small threaded HTTP server that takes pushes like a real push service (RFC 8030): it keeps
each one with its headers and arrival time, decrypts it with the browser's keys, and answers
with the statuses a test scripts (``201`` unless told otherwise: ``500`` twice, ``410``...).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from http_ece import ECEException

__all__ = ["ECEException"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Browser:
    """One browser's subscription keys."""

    name: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def subscription(self, base_url: str) -> dict[str, object]:
        """``PushSubscription.toJSON()`` as a browser would give it."""
        return {
            "endpoint": f"{base_url}/push/{self.name}",
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, object]:
        """The push's JSON, decrypted as the browser does (``aes128gcm``)."""
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        message: dict[str, object] = json.loads(plain)
        return message


@dataclass(frozen=True)
class Delivery:
    """One push as it arrived."""

    name: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int
    """What the endpoint answered."""


def check_vapid(authorization: str, public_key: str, audience: str) -> dict[str, object]:
    """The claims of a ``vapid t=<JWT>,k=<key>`` header (RFC 8292), once its key is
    ``public_key`` and its ES256 signature checks out; raises AssertionError otherwise."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    assert values["k"] == public_key
    header, claims, signature = values["t"].split(".")
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    try:
        key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as error:
        raise AssertionError("the VAPID signature does not check out") from error
    payload: dict[str, object] = json.loads(unb64url(claims))
    assert payload["aud"] == audience
    assert isinstance(payload["exp"], int)
    assert payload["exp"] > time.time()
    assert str(payload["sub"]).startswith(("mailto:", "https://"))
    return payload


class PushEndpoint:
    """Pushes to ``{base_url}/push/<browser name>``; :meth:`answer` scripts the statuses."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._arrived = threading.Condition()
        self.deliveries: list[Delivery] = []
        self._scripts: dict[str, list[int]] = {}

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, name: str, *statuses: int) -> None:
        """The next pushes to ``name`` get these statuses, in order (then 201)."""
        self._scripts[name] = list(statuses)

    def _take(self, name: str, headers: dict[str, str], body: bytes) -> int:
        with self._arrived:
            script = self._scripts.get(name, [])
            status = script.pop(0) if script else 201
            self.deliveries.append(Delivery(name, headers, body, time.monotonic(), status))
            self._arrived.notify_all()
        return status

    def to(self, name: str, status: int | None = 201) -> list[Delivery]:
        """The pushes to ``name`` so far (those answered ``status``; every one for None)."""
        with self._arrived:
            return [
                d
                for d in self.deliveries
                if d.name == name and (status is None or d.status == status)
            ]

    def wait(self, name: str, count: int = 1, timeout_s: float = 5.0) -> list[Delivery]:
        """Until ``count`` pushes to ``name`` arrived (any status); all of them."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len([d for d in self.deliveries if d.name == name]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fewer than {count} pushes to {name} in {timeout_s} s")
                self._arrived.wait(left)
            return [d for d in self.deliveries if d.name == name]


@contextmanager
def push_endpoint() -> Iterator[PushEndpoint]:
    """A push service on 127.0.0.1 (a free port), stopped on exit."""
    holder: list[PushEndpoint] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            name = self.path.removeprefix("/push/")
            headers = {key.lower(): value for key, value in self.headers.items()}
            status = holder[0]._take(name, headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test reads the deliveries

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(PushEndpoint(server))
    thread = threading.Thread(target=server.serve_forever, name="push-endpoint", daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
