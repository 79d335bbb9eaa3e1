"""The bounded queue between the detection core and the plate reader.

The core puts offers (:class:`~detect.plates.candidates.PlateOffer`) and never waits: when the
queue is full, the offer that has waited longest is dropped (:mod:`detect.drop_oldest`),
counted in ``matthan_plate_crops_dropped_total{camera}``. The oldest goes because a newer
offer of a track is its better picture (offers only improve), and a plate read late is worth
less to a watch list than one read now.
"""

from __future__ import annotations

from detect.drop_oldest import DropOldestQueue
from detect.plates.candidates import PlateOffer
from detect.plates.metrics import CROPS_DROPPED, QUEUE_DEPTH


def _dropped(offer: PlateOffer) -> None:
    CROPS_DROPPED.labels(offer.camera_id).inc()


class PlateQueue(DropOldestQueue[PlateOffer]):
    """At most ``size`` offers waiting."""

    def __init__(self, size: int = 16) -> None:
        super().__init__(size, _dropped, QUEUE_DEPTH.set)
