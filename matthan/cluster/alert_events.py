"""The alert events that travel over the alert stream, and their JSON form.

An event is one frozen dataclass: :class:`AlertOpened` carries the whole
:class:`common.store.NewAlert` (its pictures base64 in the JSON; an alert is under 1 MB),
:class:`AlertEnded` the producer's ``uid`` and the end time, :class:`CameraChanged` a camera's
new state as the node's ingest saw it (the station's camera health), :class:`SegmentRecorded`
a segment the node recorded (the station indexes it; the file stays on the node and is
fetched from it, :mod:`common.node_footage`), :class:`SegmentRemoved` one that the node's
retention deleted since (the station's index forgets it). Alert events carry the
producer's ``uid``, which is also what makes them idempotent: the server drops a re-publish with the
same ``Nats-Msg-Id`` (:func:`message_id`) inside its duplicate window, and the station's
store keeps one alert per ``uid`` whatever arrives later.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any

from common.alert_rows import NewAlert
from common.messages import CameraState, CameraStatus, Severity

SUBJECT_ROOT = "matthan.alerts"


class AlertEventError(ValueError):
    """A message on the alert stream that is not an alert event of ours."""


@dataclass(frozen=True, slots=True)
class AlertOpened:
    """An alert a node committed: store it at the station (``alert.uid`` is set)."""

    site: str
    alert: NewAlert

    @property
    def uid(self) -> str:
        if self.alert.uid is None:
            raise AlertEventError("an alert on the stream needs its producer's uid")
        return self.alert.uid

    @property
    def camera_id(self) -> str:
        return self.alert.camera_id


@dataclass(frozen=True, slots=True)
class AlertEnded:
    """The alert ``uid`` ended at ``at`` (seconds since the epoch)."""

    site: str
    camera_id: str
    kind: str
    uid: str
    at: float


@dataclass(frozen=True, slots=True)
class CameraChanged:
    """A camera of a node changed state. ``uid`` names the event (the node's store and its
    row), so a re-publish inside the duplicate window adds nothing; a redelivery after that
    stores the same state twice, which changes no camera's health."""

    site: str
    uid: str
    status: CameraStatus

    @property
    def camera_id(self) -> str:
        return self.status.camera_id


@dataclass(frozen=True, slots=True)
class SegmentRecorded:
    """Node ``node`` finished a segment of ``camera_id`` (its id there: ``remote_id``); the
    file stays on the node, the station indexes it (``uid``: the node's store and its row)."""

    site: str
    uid: str
    camera_id: str
    node: str
    remote_id: int
    start: float
    end: float
    bytes: int


@dataclass(frozen=True, slots=True)
class SegmentRemoved:
    """Node ``node`` deleted its segment ``remote_id`` of ``camera_id`` (its retention), which
    it had announced: the station's index forgets it (``uid``: the announcement's)."""

    site: str
    uid: str
    camera_id: str
    node: str
    remote_id: int


AlertEvent = AlertOpened | AlertEnded | CameraChanged | SegmentRecorded | SegmentRemoved


def subject(event: AlertEvent) -> str:
    """``matthan.alerts.<site>.<camera>``: a hub can subscribe to one site or one camera."""
    return f"{SUBJECT_ROOT}.{event.site}.{event.camera_id}"


def message_id(event: AlertEvent) -> str:
    """The ``Nats-Msg-Id`` of the event: its uid and what happened to it."""
    if isinstance(event, CameraChanged):
        return f"{event.uid}:camera"
    if isinstance(event, SegmentRecorded):
        return f"{event.uid}:segment"
    if isinstance(event, SegmentRemoved):
        return f"{event.uid}:removed"
    return f"{event.uid}:{'opened' if isinstance(event, AlertOpened) else 'ended'}"


def encode(event: AlertEvent) -> bytes:
    """The event as UTF-8 JSON."""
    if isinstance(event, SegmentRecorded):
        body: dict[str, Any] = {"event": "segment", **asdict(event)}
    elif isinstance(event, SegmentRemoved):
        body = {"event": "segment_removed", **asdict(event)}
    elif isinstance(event, CameraChanged):
        body = {
            "event": "camera",
            "site": event.site,
            "uid": event.uid,
            "camera_id": event.status.camera_id,
            "state": event.status.state.value,
            "at": event.status.at,
            "detail": event.status.detail,
        }
    elif isinstance(event, AlertEnded):
        body = {
            "event": "ended",
            "site": event.site,
            "camera_id": event.camera_id,
            "kind": event.kind,
            "uid": event.uid,
            "at": event.at,
        }
    else:
        alert = event.alert
        body = {
            "event": "opened",
            "site": event.site,
            "uid": event.uid,
            "camera_id": alert.camera_id,
            "kind": alert.kind,
            "rule": alert.rule,
            "severity": alert.severity.value,
            "started_at": alert.started_at,
            "triggered_at": alert.triggered_at,
            "class_name": alert.class_name,
            "track_id": alert.track_id,
            "confidence": alert.confidence,
            "box": list(alert.box) if alert.box is not None else None,
            "snapshot_jpeg": _b64(alert.snapshot_jpeg),
            "crop_jpeg": _b64(alert.crop_jpeg) if alert.crop_jpeg is not None else None,
        }
    return json.dumps(body, separators=(",", ":")).encode()


def decode(data: bytes) -> AlertEvent:
    """The event in ``data``; :class:`AlertEventError` if it is not one."""
    try:
        body = json.loads(data)
        if body["event"] == "segment":
            return SegmentRecorded(
                site=str(body["site"]),
                uid=str(body["uid"]),
                camera_id=str(body["camera_id"]),
                node=str(body["node"]),
                remote_id=int(body["remote_id"]),
                start=float(body["start"]),
                end=float(body["end"]),
                bytes=int(body["bytes"]),
            )
        if body["event"] == "segment_removed":
            return SegmentRemoved(
                site=str(body["site"]),
                uid=str(body["uid"]),
                camera_id=str(body["camera_id"]),
                node=str(body["node"]),
                remote_id=int(body["remote_id"]),
            )
        if body["event"] == "camera":
            status = CameraStatus(
                camera_id=str(body["camera_id"]),
                state=CameraState(body["state"]),
                at=float(body["at"]),
                detail=str(body["detail"]),
            )
            return CameraChanged(site=str(body["site"]), uid=str(body["uid"]), status=status)
        if body["event"] == "ended":
            return AlertEnded(
                site=str(body["site"]),
                camera_id=str(body["camera_id"]),
                kind=str(body["kind"]),
                uid=str(body["uid"]),
                at=float(body["at"]),
            )
        if body["event"] != "opened":
            raise AlertEventError(f"unknown alert event {body['event']!r}")
        box = body["box"]
        alert = NewAlert(
            camera_id=str(body["camera_id"]),
            kind=str(body["kind"]),
            rule=str(body["rule"]),
            severity=Severity(body["severity"]),
            started_at=float(body["started_at"]),
            triggered_at=_optional_float(body["triggered_at"]),
            snapshot_jpeg=base64.b64decode(body["snapshot_jpeg"], validate=True),
            crop_jpeg=(
                base64.b64decode(body["crop_jpeg"], validate=True)
                if body["crop_jpeg"] is not None
                else None
            ),
            class_name=str(body["class_name"]),
            track_id=int(body["track_id"]) if body["track_id"] is not None else None,
            confidence=_optional_float(body["confidence"]),
            box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])) if box else None,
            uid=str(body["uid"]),
        )
        return AlertOpened(site=str(body["site"]), alert=alert)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise AlertEventError(f"not an alert event: {exc}") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
