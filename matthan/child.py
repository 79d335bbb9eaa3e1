"""Where every supervised process begins: its own logging, its own stop event, and death with
its parent.

This module is the target the supervisor hands to ``multiprocessing`` (spawn), so it is what a
new role imports first; it imports nothing of the roles. The role's own function (its
``target``) then brings only its own modules: an ingest worker does not load the model
runtime or the web server, so it starts in about a second, not three (the restart of a role,
and an analysis node taking over a camera, wait for that).
"""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Callable
from typing import Any

from matthan.logs import setup_logging

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when the supervisor dies (even by kill -9),
    so that no orphaned role keeps the cameras, the port or the store after a crash."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_main(role: str, target: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Entry of every child: its own logging and its own stop event, set by SIGTERM.

    Each process has a stop event of its own rather than one shared ``multiprocessing.Event``:
    a shared event's condition variable hangs every ``set()`` once a process that waited on
    it was killed, which would turn one crashed role into a service that cannot stop.
    Ctrl-C is left to the supervisor, which stops the roles with SIGTERM.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    die_with_parent()
    setup_logging(role)
    target(*args, stop)
