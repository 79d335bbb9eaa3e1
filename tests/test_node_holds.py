"""A legal hold placed at the station keeps the footage on the node that recorded it.

Real parts: a nats-server with the site token, the station's and the node's SQLite stores, the
node's real retention sweeper (by age) over real files. The station's publisher and the node's
copy are stepped by hand, as the intake's and the node's loops step them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import nats.errors
import pytest

from common import recordings
from common.config import RecordingConfig
from common.store import Store
from ingest.retention import RetentionSweeper
from matthan.cluster.client import NatsClient
from matthan.cluster.holds import HoldMirror, HoldPublisher, decode
from matthan.cluster.server import NatsServer
from tests.conftest import free_port

TOKEN = "holds-test-site-token-0123456789"
CAMERA = "cong-lang"


def _record(store: Store, folder: Path, start: float) -> int:
    path = folder / f"{start:.0f}.mp4"
    path.write_bytes(b"footage " * 100)
    return recordings.add_segment(
        store, CAMERA, start=start, end=start + 60, path=str(path), size=path.stat().st_size
    )


def test_a_hold_placed_at_the_station_stops_the_nodes_retention(tmp_path: Path) -> None:
    station = Store(tmp_path / "station" / "station.db")
    node = Store(tmp_path / "node" / "node.db")
    folder = tmp_path / "node" / "rec"
    folder.mkdir()
    old = time.time() - 10 * 86400  # older than the node keeps footage (1 day)
    held, free = _record(node, folder, old), _record(node, folder, old + 600)
    sweeper = RetentionSweeper(node, RecordingConfig(path=folder, retain_days=1, min_free_gb=0))
    hold = recordings.add_legal_hold(
        station, CAMERA, start=old + 10, end=old + 20, reason="vụ trộm xe", by="admin", at=old
    )
    with NatsServer(tmp_path / "nats", token=TOKEN, port=free_port()) as server:
        client = NatsClient.connect(server.url, TOKEN, name="holds")
        try:
            mirror = HoldMirror(client, node)
            assert not mirror.step()  # nothing published yet: nothing copied, no error
            publisher = HoldPublisher(client, station)
            assert publisher.step()
            assert not publisher.step()  # unchanged: not put again

            assert mirror.step()
            copied = recordings.legal_holds(node)
            assert [(h.camera_id, h.start, h.end) for h in copied] == [(CAMERA, old + 10, old + 20)]
            assert copied[0].created_by == recordings.STATION_HOLDS_BY
            assert "vụ trộm" not in copied[0].reason  # only the range travels
            assert not mirror.step()  # the same revision: nothing to do

            sweeper.sweep(time.time())
            assert [s.id for s in recordings.segments(node)] == [held]
            assert not Path(folder / f"{old + 600:.0f}.mp4").exists()
            assert free not in [s.id for s in recordings.segments(node)]

            server.stop()  # the link goes: the node keeps the copy it has
            assert not mirror.step()
            assert len(recordings.legal_holds(node)) == 1
            server.start()

            recordings.lift_legal_hold(station, hold, by="admin", reason="vụ án đã xử")
            _eventually(publisher.step)
            _eventually(mirror.step)
            assert recordings.legal_holds(node) == []
            sweeper.sweep(time.time())
            assert recordings.segments(node) == []
        finally:
            client.close()
            node.close()
            station.close()


def _eventually(step: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Step until it does something: the client reconnects to the restarted server."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if step():
                return
        except (TimeoutError, nats.errors.Error):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{step} did nothing in {timeout_s} s")


def test_a_list_that_is_not_ours_is_refused() -> None:
    with pytest.raises(ValueError, match="not a list of holds"):
        decode(b'[{"camera_id": "x"}]')
    with pytest.raises(ValueError, match="not a list"):
        decode(b'{"id": 1}')
