"""A camera's offline alert: raised once for every absence longer than the debounce, even when
the worker's once-a-second tick came too late to raise it while the camera was away."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common import alert_rows
from common.alert_rows import AlertRecord
from common.messages import CameraState, CameraStatus
from common.store import Store
from ingest.health import OFFLINE_KIND, CameraHealth


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "health.db")
    yield opened
    opened.close()


def offline_alerts(store: Store) -> list[AlertRecord]:
    return [alert for alert in alert_rows.alerts_after(store, 0) if alert.kind == OFFLINE_KIND]


def away_and_back(health: CameraHealth, away_at: float, back_at: float) -> None:
    health.report(CameraStatus("gate", CameraState.ONLINE, away_at - 5))
    health.report(CameraStatus("gate", CameraState.OFFLINE, away_at, "stream ended"))
    health.report(CameraStatus("gate", CameraState.ONLINE, back_at))


def test_an_absence_no_tick_saw_still_raises_one_ended_alert(store: Store) -> None:
    """The worker's loop was held up (a busy store, an overloaded machine) for the whole
    absence: the alert is raised when the camera returns, already ended."""
    health = CameraHealth("gate", store, None, debounce_s=10)
    now = time.time()
    away_and_back(health, now - 12, now)
    health.tick(now + 1)
    (alert,) = offline_alerts(store)
    assert (alert.camera_id, alert.started_at, alert.ended_at) == ("gate", now - 12, now)


def test_an_alert_the_tick_raised_is_not_raised_again(store: Store) -> None:
    health = CameraHealth("gate", store, None, debounce_s=10)
    now = time.time()
    health.report(CameraStatus("gate", CameraState.ONLINE, now - 20))
    health.report(CameraStatus("gate", CameraState.OFFLINE, now - 12, "stream ended"))
    health.tick(now - 1)
    health.report(CameraStatus("gate", CameraState.ONLINE, now))
    (alert,) = offline_alerts(store)
    assert (alert.started_at, alert.ended_at) == (now - 12, now)


def test_an_absence_shorter_than_the_debounce_raises_nothing(store: Store) -> None:
    health = CameraHealth("gate", store, None, debounce_s=10)
    now = time.time()
    away_and_back(health, now - 9, now)
    health.tick(now + 1)
    assert offline_alerts(store) == []
