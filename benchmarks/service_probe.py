"""Look at a running matthan service from outside, the way an administrator would:
its /metrics, its processes' CPU and memory, and its alert feed over the WebSocket."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


METRICS_TOKEN_ENV = "MATTHAN_METRICS_TOKEN"  # noqa: S105 (a variable's name, not a secret)
"""The variable a site's ``dashboard.metrics_token_env`` names unless it says otherwise."""


def metrics_token() -> str:
    """The scrape token of the services this process starts: ``$MATTHAN_METRICS_TOKEN``, set
    here to a random one the first time, so that every service started afterwards (they
    inherit the environment) accepts it."""
    return os.environ.setdefault(METRICS_TOKEN_ENV, secrets.token_urlsafe(24))


def token_header() -> dict[str, str]:
    """The header that opens /metrics and the details of /readyz."""
    return {"Authorization": f"Bearer {metrics_token()}"}


def scrape(base_url: str) -> Samples:
    """Every sample of /metrics, keyed by (name, sorted labels)."""
    request = urllib.request.Request(f"{base_url}/metrics", headers=token_header())  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid"))
            key = (sample.name, labels)
            samples[key] = samples.get(key, 0.0) + sample.value
    return samples


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """Sum of ``name`` per value of ``label``."""
    out: dict[str, float] = defaultdict(float)
    for (sample_name, labels), value in samples.items():
        if sample_name == name:
            out[dict(labels).get(label, "")] += value
    return out


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before.get(key, 0.0) for key in after}


def counter_totals(
    samples: Samples, prefix: str = "matthan_detector_", drop: tuple[str, ...] = ("camera",)
) -> dict[str, float]:
    """Every counter sample named ``prefix*_total``, summed over the ``drop`` labels and keyed
    ``name{label=value,...}`` by the labels that remain (``name`` alone when none do): new
    counters show up without code changes, and per-camera ones stay one entry each."""
    out: dict[str, float] = defaultdict(float)
    for (name, labels), value in samples.items():
        if not (name.startswith(prefix) and name.endswith("_total")):
            continue
        kept = ",".join(f"{k}={v}" for k, v in labels if k not in drop)
        out[f"{name}{{{kept}}}" if kept else name] += value
    return dict(out)


def rates(after: dict[str, float], before: dict[str, float], elapsed: float) -> dict[str, float]:
    """Per-second change of each key between two readings, in key order."""
    return {key: round((after[key] - before.get(key, 0.0)) / elapsed, 3) for key in sorted(after)}


def histogram_quantile(after: Samples, before: Samples, name: str, q: float) -> float | None:
    """The q-quantile of a histogram's observations between two scrapes (bucket bound)."""
    buckets: dict[float, float] = defaultdict(float)
    for (sample_name, labels), value in after.items():
        if sample_name == f"{name}_bucket":
            bound = float(dict(labels)["le"])
            buckets[bound] += value - before.get((sample_name, labels), 0.0)
    if not buckets:
        return None
    total = buckets[max(buckets)]
    if total <= 0:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound
    return None


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(fields[1])].append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


@dataclass
class AlertListener:
    """Logs in, follows /ws/alerts in a thread, and records each alert's latency: arrival
    on the WebSocket minus the capture time of the frame that raised it. ``alerts`` keeps
    the last version of every alert received, by id; the thread ends when the service
    closes the socket (``closed`` is then set)."""

    base_url: str
    username: str
    password: str
    latencies_s: list[tuple[float, float]] = field(default_factory=list)
    alerts: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._follow()), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _login_cookie(self) -> str:
        body = json.dumps({"username": self.username, "password": self.password}).encode()
        request = urllib.request.Request(  # noqa: S310 - local service
            f"{self.base_url}/api/login",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            cookie = response.headers["Set-Cookie"]
        return str(cookie).split(";", 1)[0]

    async def _follow(self) -> None:
        import websockets

        cookie = self._login_cookie()
        request = urllib.request.Request(  # noqa: S310 - local service
            f"{self.base_url}/api/alerts?limit=1", headers={"Cookie": cookie}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            latest = json.load(response)
        after = latest[0]["id"] if latest else 0
        url = self.base_url.replace("http", "ws", 1) + f"/ws/alerts?after={after}"
        async with websockets.connect(url, additional_headers={"Cookie": cookie}) as socket:
            while not self._stop.is_set():
                try:
                    message = await asyncio.wait_for(socket.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                except websockets.ConnectionClosed:
                    self.closed.set()
                    return
                arrived = time.time()
                alert = json.loads(message)
                if not isinstance(alert, dict) or "started_at" not in alert:
                    continue
                first_time = alert["id"] not in self.alerts
                self.alerts[alert["id"]] = alert
                captured = alert.get("triggered_at")
                if first_time and captured is not None:
                    self.latencies_s.append((captured, arrived - captured))


def healthy(port: int) -> bool:
    """Whether ``matthan run``'s dashboard on ``port`` answers ``/healthz`` (plain HTTP)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except OSError:
        return False
