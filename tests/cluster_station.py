"""The station's alert consumer in its own process, for tests/test_cluster.py.

    python -m tests.cluster_station URL DATABASE ACK_WAIT_S   (token in MATTHAN_SITE_TOKEN)

It stores every event of the alert stream into the SQLite store at DATABASE and prints one
JSON line per step that did something (``{"stored": n, "skipped": n, "redelivered": n}``).
SIGTERM stops it after the current step; the test kills it with SIGKILL mid-stream.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import nats.errors

from common.store import Store
from matthan.cluster.alert_stream import AlertStreamConsumer
from matthan.cluster.client import NatsClient
from matthan.cluster.server import site_token


def main(argv: list[str]) -> None:
    url, database, ack_wait_s = argv
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = NatsClient.connect(url, site_token(), name="station")
    store = Store(Path(database))
    consumer = AlertStreamConsumer(client, store, ack_wait_s=float(ack_wait_s), batch=8)
    print(json.dumps({"ready": True}), flush=True)
    while not stop.is_set():
        try:
            handled = consumer.step(wait_s=0.5)
        except (TimeoutError, nats.errors.Error) as exc:  # a slow machine: try again
            print(json.dumps({"error": str(exc)}), flush=True)
            continue
        if handled.stored or handled.skipped or handled.redelivered or handled.deferred:
            print(
                json.dumps(
                    {
                        "stored": handled.stored,
                        "skipped": handled.skipped,
                        "redelivered": handled.redelivered,
                        "deferred": handled.deferred,
                    }
                ),
                flush=True,
            )
    client.close()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
