"""Shared fixtures: free ports, the camera farm, a running matthan service, Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchmarks.service_probe import metrics_token
from tests.paths import REPO, models_dir

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


class Service:
    """``matthan run`` as a subprocess, with its log in a file."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config = config
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = log
        metrics_token()  # the service inherits it; scrape() sends it
        env = {**os.environ, "MATTHAN_MODELS": str(models_dir()), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "matthan.cli", "run", "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=config.parent,
            )

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def add_user(self, name: str, password: str, role: str = "admin") -> None:
        """``matthan user add`` as an installer runs it, the password in MATTHAN_PASSWORD."""
        command = [sys.executable, "-m", "matthan.cli", "user", "add", "-c", str(self.config)]
        done = subprocess.run(
            [*command, name, "--role", role],
            env={**os.environ, "MATTHAN_PASSWORD": password},
            cwd=self.config.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[[str, int], Service]]:
    """Start ``matthan run`` on a config text; stopped (and its log kept) at teardown."""
    services: list[Service] = []

    def start(config_text: str, port: int) -> Service:
        config = tmp_path / "site.yaml"
        config.write_text(config_text, encoding="utf-8")
        service = Service(config, port, tmp_path / "matthan.log")
        services.append(service)
        wait_http(f"{service.base_url}/healthz", 60, service.process)
        return service

    yield start
    for service in services:
        service.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "matthan-last.log").write_text(service.log_text(), encoding="utf-8")
