"""Turn rule events into stored alerts: open with pictures, end when the situation is over.

An alert is committed to the store *before* its notice is published, through the one
:class:`~common.alert_writer.AlertWriter` every producer uses.

Open alerts live in this process's memory, keyed by camera, rule and track. If the detection
core dies, that memory dies with it: the next core ends the alerts left open
(:meth:`AlertKeeper.end_orphans`), since the tracks they followed are gone.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from common import alert_rows
from common.alert_rows import NewAlert
from common.alert_writer import ANALYSIS_KINDS, AlertSink, AlertWriter
from common.channel import Channel
from common.messages import AlertNotice
from common.store import Store
from detect.detections import Detections
from detect.metrics import ALERTS, ALERTS_SUPPRESSED
from detect.rules import Phase, RuleEvent
from detect.sightings import BestSightings
from detect.snapshots import Box, Image, annotated, crop, encode_jpeg

log = logging.getLogger(__name__)

OpenKey = tuple[str, str, int | None]
"""(camera, rule, track id or None for a crowd episode)."""


@dataclass(frozen=True, slots=True, eq=False)
class AnalysedFrame:
    """What the core knows about one frame when it acts on the rules' events."""

    camera_id: str
    image: Image
    detections: Detections
    """The tracked detections the rules saw (their ``rows`` index these)."""
    sightings: BestSightings


class AlertKeeper:
    """Stores alerts for START events, ends them for END events, counts SUPPRESSED ones.

    Live analysis stores into the store and announces each alert on ``notices``. A re-analysis
    job stores into its findings, announces nothing (``notices`` None) and is not ``live``: its
    alerts are not events of now, so they stay out of the alert metrics.
    """

    def __init__(
        self,
        store: AlertSink,
        notices: Channel[AlertNotice] | None,
        class_names: tuple[str, ...],
        *,
        live: bool = True,
    ) -> None:
        self._writer = AlertWriter(store, notices)
        self._class_names = class_names
        self._live = live
        self._open: dict[OpenKey, tuple[int, str]] = {}

    def handle(self, frame: AnalysedFrame, events: list[RuleEvent]) -> None:
        """Act on one frame's events, in order."""
        for event in events:
            key = (frame.camera_id, event.rule.name, event.track_id)
            if event.phase == Phase.START:
                self._open[key] = (self._start(frame, event), event.rule.kind)
            elif event.phase == Phase.END:
                self._end(key, event.at)
            elif self._live:
                ALERTS_SUPPRESSED.labels(frame.camera_id, event.rule.name).inc()

    def _start(self, frame: AnalysedFrame, event: RuleEvent) -> int:
        alert = self._new_alert(frame, event)
        alert_id = self._writer.open(alert)
        if self._live:
            ALERTS.labels(frame.camera_id, event.rule.name).inc()
        log.info("alert %d: %s on %s (%s)", alert_id, event.rule.name, frame.camera_id, alert.kind)
        return alert_id

    def _new_alert(self, frame: AnalysedFrame, event: RuleEvent) -> NewAlert:
        dets = frame.detections
        if event.track_id is None:  # a crowd: every member boxed on the current frame
            return self._crowd_alert(frame, event)
        row = event.rows[0]
        best = frame.sightings.best(event.track_id, event.since)
        image, box = frame.image, _box(dets, row)
        confidence, class_id = float(dets.confidence[row]), int(dets.class_id[row])
        if best is not None:
            image, box, confidence, class_id = best.image, best.box, best.confidence, best.class_id
        name = self._class_names[class_id]
        label = f"{name} #{event.track_id} {confidence:.2f} {event.direction}".rstrip()
        return NewAlert(
            camera_id=frame.camera_id,
            kind=event.rule.kind,
            rule=event.rule.name,
            severity=event.rule.severity,
            started_at=event.since,
            triggered_at=event.at,
            snapshot_jpeg=encode_jpeg(annotated(image, event.outline, [(box, label)])),
            crop_jpeg=encode_jpeg(crop(image, box)),
            class_name=name,
            track_id=event.track_id,
            confidence=confidence,
            box=box,
        )

    def _crowd_alert(self, frame: AnalysedFrame, event: RuleEvent) -> NewAlert:
        dets = frame.detections
        boxes = [_box(dets, row) for row in event.rows]
        labels = [self._class_names[int(dets.class_id[row])] for row in event.rows]
        labelled = list(zip(boxes, labels, strict=True))
        union = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        return NewAlert(
            camera_id=frame.camera_id,
            kind=event.rule.kind,
            rule=event.rule.name,
            severity=event.rule.severity,
            started_at=event.since,
            triggered_at=event.at,
            snapshot_jpeg=encode_jpeg(annotated(frame.image, event.outline, labelled)),
            crop_jpeg=encode_jpeg(crop(frame.image, union, margin=0.05)),
            class_name=Counter(labels).most_common(1)[0][0],
            box=union,
        )

    def _end(self, key: OpenKey, at: float) -> None:
        opened = self._open.pop(key, None)
        if opened is None:
            return
        alert_id, kind = opened
        self._writer.end(alert_id, key[0], kind, at)

    def end_all(self, at: float) -> None:
        """End every open alert (the core is stopping and will not see them end)."""
        for key in list(self._open):
            self._end(key, at)

    @staticmethod
    def end_orphans(store: Store, at: float) -> int:
        """End the alerts of the kinds the core raises (rules, watch-listed plates) left open
        by a previous core; returns how many (live alerts only: a re-analysis finding is not
        the core's)."""
        marks = ",".join("?" * len(ANALYSIS_KINDS))
        rows = store.read(
            "SELECT id FROM alerts WHERE ended_at IS NULL AND job_id IS NULL"
            f" AND kind IN ({marks})",
            tuple(ANALYSIS_KINDS),
        )
        for row in rows:
            alert_rows.end_alert(store, int(row["id"]), at)
        return len(rows)


def _box(detections: Detections, row: int) -> Box:
    x1, y1, x2, y2 = detections.xyxy[row].tolist()
    return (x1, y1, x2, y2)
