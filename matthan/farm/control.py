"""Start and steer the RTSP camera farm from the project's venv.

The server (`server.py` beside this file) needs GStreamer's Python bindings, which Debian's
Python has and the venv does not, so it runs as a child of ``/usr/bin/python3`` and is steered
over its stdin and stdout, one JSON line each way::

    clips = default_clips_dir()     # common.paths: the clip library
    with CameraFarm([Mount("gate", clips / "pets09_s2l1_vtest.mp4")]) as farm:
        url = farm.url("gate")      # rtsp://127.0.0.1:PORT/gate, real time at the clip's fps
        farm.stop_mount("gate")     # the camera dies: its readers see EOF, new ones a 404
        farm.start_mount("gate")    # and comes back

Every camera loops its clip forever without re-encoding. A camera starts on the keyframe at or
before its `offset_frames`, so cameras playing one clip show different moments.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self, get_args
from urllib.parse import quote

Mode = Literal["normal", "garbage"]
"""`normal` serves the clip; `garbage` serves it with every slice replaced by random bytes."""

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("server.py")
READY_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 10.0
QUIT_TIMEOUT_S = 5.0
STDERR_TAIL_BYTES = 4000
_NAME = re.compile(r"[A-Za-z0-9._-]+")


class FarmError(RuntimeError):
    """The farm's server failed, exited, or refused a command."""


class FarmTimeoutError(FarmError, TimeoutError):
    """The farm's server did not answer in time."""


@dataclass(frozen=True, slots=True)
class Mount:
    """One camera: served at ``rtsp://HOST:PORT/<name>``, looping `clip` from `offset_frames`."""

    name: str
    clip: Path
    offset_frames: int = 0
    mode: Mode = "normal"

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"mount name must match {_NAME.pattern}, not {self.name!r}")
        if self.offset_frames < 0:
            raise ValueError(f"offset_frames must be >= 0, not {self.offset_frames}")
        if self.mode not in get_args(Mode):
            raise ValueError(f"mode must be one of {get_args(Mode)}, not {self.mode!r}")

    def to_spec(self) -> dict[str, object]:
        """The server's JSON form of this mount (the clip as an absolute path)."""
        return {
            "name": self.name,
            "clip": str(self.clip.resolve()),
            "offset": self.offset_frames,
            "mode": self.mode,
        }


class CameraFarm:
    """A running farm of RTSP cameras; a context manager that stops the server on exit.

    The constructor starts the server and returns once it listens (or raises `FarmError`
    carrying the server's stderr). Every method after that is one command and its answer.
    """

    def __init__(
        self,
        mounts: Sequence[Mount],
        port: int = 0,
        username: str | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        names = [mount.name for mount in mounts]
        if len(set(names)) != len(names):
            raise ValueError(f"mount names must be unique: {names}")
        self.host = host
        self._username = username
        self._password = password
        self._mounts = {mount.name: mount for mount in mounts}
        self._lock = threading.Lock()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._spec_dir = tempfile.TemporaryDirectory(prefix="matthan-farm-")
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        try:
            self._process = self._spawn(mounts, port)
        except OSError:
            self._release_files()
            raise
        self._reader = threading.Thread(target=self._read_stdout, name="farm-out", daemon=True)
        self._reader.start()
        try:
            self.port = self._await_ready()
        except FarmError:
            self.close()
            raise

    def _spawn(self, mounts: Sequence[Mount], port: int) -> subprocess.Popen[str]:
        """Start server.py on a spec file listing the mounts."""
        spec = Path(self._spec_dir.name) / "mounts.json"
        spec.write_text(json.dumps([mount.to_spec() for mount in mounts]), encoding="utf-8")
        command = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--spec", str(spec)]
        command += ["--host", self.host, "--port", str(port)]
        if self._username is not None and self._password is not None:
            command += ["--username", self._username, "--password", self._password]
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            start_new_session=True,  # a Ctrl-C meant for us reaches the server through close()
        )

    def _read_stdout(self) -> None:
        """Background thread: queue every line the server prints; None marks its exit."""
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _await_ready(self) -> int:
        """Wait for ``{"ready": true, "port": P}`` and return P."""
        message = self._next_message(READY_TIMEOUT_S)
        port = message.get("port")
        if message.get("ready") is not True or not isinstance(port, int):
            raise self._failure(f"unexpected first line from the farm: {message}")
        return port

    def _next_message(self, timeout_s: float) -> dict[str, object]:
        """The server's next JSON line; its exit, silence or nonsense raise with its stderr."""
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            what = f"the farm did not answer within {timeout_s} s"
            raise self._failure(what, FarmTimeoutError) from None
        if line is None:
            raise self._failure("the farm's server exited")
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            raise self._failure(f"the farm printed something other than a JSON object: {line!r}")
        return message

    def _failure(self, what: str, kind: type[FarmError] = FarmError) -> FarmError:
        """An error naming what went wrong, the exit status and the tail of the server's stderr."""
        fd = self._stderr.fileno()  # shared with the server: pread leaves its write offset alone
        start = max(0, os.fstat(fd).st_size - STDERR_TAIL_BYTES)
        stderr = os.pread(fd, STDERR_TAIL_BYTES, start).decode(errors="replace")
        return kind(f"{what} (exit status {self._process.poll()}); stderr:\n{stderr}")

    def _request(self, cmd: str, **fields: object) -> dict[str, object]:
        """Send one command and return its answer; a refusal raises `FarmError`."""
        assert self._process.stdin is not None
        with self._lock:
            try:
                self._process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
                self._process.stdin.flush()
            except OSError as error:
                raise self._failure(f"cannot send {cmd!r} to the farm: {error}") from error
            answer = self._next_message(REPLY_TIMEOUT_S)
        if answer.get("ok") is not True:
            raise FarmError(f"the farm refused {cmd!r}: {answer.get('error')}")
        return answer

    @property
    def pid(self) -> int:
        """The server process's id (to measure its CPU time)."""
        return self._process.pid

    def url(self, name: str, with_credentials: bool = False) -> str:
        """The camera's RTSP URL, optionally with the farm's user and password in it."""
        if name not in self._mounts:
            raise KeyError(f"no mount named {name!r}; mounts: {sorted(self._mounts)}")
        userinfo = ""
        if with_credentials:
            if self._username is None or self._password is None:
                raise ValueError("this farm has no username and password")
            userinfo = f"{quote(self._username, safe='')}:{quote(self._password, safe='')}@"
        return f"rtsp://{userinfo}{self.host}:{self.port}/{name}"

    def stop_mount(self, name: str) -> None:
        """Kill a camera: unmount it and drop its clients (they see EOF or an error)."""
        self._request("stop", name=name)

    def start_mount(self, name: str) -> None:
        """Bring a stopped camera back; new readers connect again."""
        self._request("start", name=name)

    def stall_mount(self, name: str) -> None:
        """Freeze a camera: connections stay open but no more video arrives."""
        self._request("stall", name=name)

    def resume_mount(self, name: str) -> None:
        """Unfreeze a stalled camera; its timestamps jump forward over the stall."""
        self._request("resume", name=name)

    def add_mount(self, mount: Mount) -> None:
        """Serve one more camera."""
        if mount.name in self._mounts:
            raise ValueError(f"mount {mount.name!r} exists already")
        self._request("add", **mount.to_spec())
        self._mounts[mount.name] = mount

    def close(self) -> None:
        """Ask the server to quit, then terminate and finally kill it; safe to call twice."""
        process = self._process
        if process.poll() is None:
            self._send_quit()
            _wait_or(process, QUIT_TIMEOUT_S, process.terminate)
            _wait_or(process, QUIT_TIMEOUT_S, process.kill)
            process.wait()
        self._reader.join(QUIT_TIMEOUT_S)  # it ends at the server's EOF
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        self._release_files()

    def _release_files(self) -> None:
        self._stderr.close()
        self._spec_dir.cleanup()

    def _send_quit(self) -> None:
        """Best effort: a server that already closed its stdin is past needing it."""
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self._process.stdin.flush()
        except OSError:
            return

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _wait_or(process: subprocess.Popen[str], timeout_s: float, then: Callable[[], None]) -> None:
    """Wait for `process` to exit; if it does not within `timeout_s`, call `then`."""
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        then()
