"""A lease holder in its own process, for tests/test_cluster.py: the seed of `matthan node`.

    python -m tests.cluster_holder URL NAME LEASE_S CAMERA...   (token in MATTHAN_SITE_TOKEN)

Every step it prints one JSON line, ``{"t": <monotonic>, "held": [...]}``: what it holds
right after the step. CLOCK_MONOTONIC is one clock for every process of the machine, so the
test can line the reports of several holders up. SIGTERM releases the leases and exits;
SIGKILL is the crash the test is about.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from matthan.cluster.client import NatsClient
from matthan.cluster.leases import CameraLeases
from matthan.cluster.server import site_token


def main(argv: list[str]) -> None:
    url, name, lease_s, *cameras = argv
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = NatsClient.connect(url, site_token(), name=name)
    leases = CameraLeases(client, name, cameras, float(lease_s))
    while not stop.is_set():
        held = leases.step()
        print(json.dumps({"t": time.monotonic(), "held": sorted(held)}), flush=True)
        stop.wait(leases.step_s)
    leases.release_all()
    client.close()


if __name__ == "__main__":
    main(sys.argv[1:])
