"""The licence plate to show on each alert card of a page (two queries for the whole page).

A watch-list alert (kind ``plate_watch``) shows the plate of the read that raised it; any
other alert about a tracked object shows the plate read on that track near the alert's
moment (:func:`common.plates.plates_of_tracks`), so a vehicle's intrusion or loitering card
says which vehicle it was.
"""

from __future__ import annotations

from common import plates
from common.alert_rows import AlertRecord
from common.alert_writer import AlertKind
from common.store import Store


def alert_plates(store: Store, alerts: list[AlertRecord]) -> dict[int, str]:
    """The plate of each alert that has one, by alert id."""
    watched = [alert.id for alert in alerts if alert.kind == AlertKind.PLATE_WATCH]
    found = plates.plates_of_alerts(store, watched)
    tracks = {
        alert.id: (alert.camera_id, alert.track_id, alert.started_at)
        for alert in alerts
        if alert.track_id is not None and alert.id not in found
    }
    on_tracks = plates.plates_of_tracks(store, list(tracks.values()))
    for alert_id, track in tracks.items():
        if track in on_tracks:
            found[alert_id] = on_tracks[track]
    return found
