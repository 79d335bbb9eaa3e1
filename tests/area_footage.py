"""Real footage of the market camera in a test store, for the tests of area scoping.

A user of the dyke who asks for a market recording must be refused because of the area,
not because the id leads nowhere: a test that asks for an export that does not exist passes
whatever the area check does. So :func:`add_market_footage` puts real things in the store
(a recorded segment cut from a shared clip, an alert inside it, an evidence export of it, a
queued and a finished re-analysis job), and a test checks that a user who may see the market
gets them with the very same request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common import jobs, plates, recordings, sightings
from common.config import SiteConfig, StorageConfig
from common.evidence import cut_clip as cut_export
from common.evidence import exports_folder, write_manifest
from common.jobs import JobSource, NewJob
from common.store import Store
from detect.appearance import appearance_vector, colour_shares
from tests.dashboard_site import add_alert, add_finished_job, jpeg, site_config
from tests.paths import clips_dir
from tests.video_files import cut_clip

MARKET_CAMERA = "cho-gom"
EXPORT_ID = "ab" * 16
EXPORT_FILE = f"{MARKET_CAMERA}.mp4"


@dataclass(frozen=True, slots=True)
class MarketFootage:
    """Ids of the market camera's footage and jobs, and the recorded window."""

    segment_id: int
    alert_id: int
    export_id: str
    queued_job_id: int
    finished_job_id: int
    finding_id: int
    start: float
    end: float
    plate_read_id: int
    sighting_id: int

    def path_values(self) -> dict[str, str]:
        """A value for every path parameter of the dashboard's routes, all of the market."""
        return {
            "camera_id": MARKET_CAMERA,
            "alert_id": str(self.alert_id),
            "segment_id": str(self.segment_id),
            "export_id": self.export_id,
            "name": EXPORT_FILE,
            "job_id": str(self.finished_job_id),
            "finding_id": str(self.finding_id),
            "read_id": str(self.plate_read_id),
            "sighting_id": str(self.sighting_id),
        }


def add_market_footage(database: Path) -> MarketFootage:
    """A 5 s recorded segment of the market camera that ended a minute ago, an alert in it,
    an export of its seconds 1 to 4 (next to the store, where the dashboard keeps exports),
    a queued and a finished re-analysis job with one finding, and a plate read and a
    person's sighting in it."""
    segment = cut_clip(
        clips_dir() / "pets09_s2l1_vtest.mp4", database.parent / "cho-gom-segment.mp4", 5.0
    )
    start = time.time() - 65.0
    end = start + 5.0
    store = Store(database)
    try:
        segment_id = recordings.add_segment(
            store,
            MARKET_CAMERA,
            start=start,
            end=end,
            path=str(segment),
            size=segment.stat().st_size,
        )
        alert_id = add_alert(store, MARKET_CAMERA, started_at=start + 1.0)
        found = recordings.segments(store, MARKET_CAMERA, start, end)
        queued = NewJob(MARKET_CAMERA, JobSource.RECORDING, start, end, created_by="operator")
        queued_job_id = jobs.add_job(store, queued)
        finished_job_id = add_finished_job(store, MARKET_CAMERA, findings=1)
        (finding,) = jobs.job_alerts(store, finished_job_id)
        plate_read_id = plates.save_read(store, market_plate(start + 2.0))
        sighting_id = sightings.add_sighting(store, market_sighting(start + 2.5))
    finally:
        store.close()
    folder = exports_folder(database) / EXPORT_ID
    folder.mkdir(parents=True)
    clip = cut_export(found, start + 1.0, start + 4.0, folder / EXPORT_FILE)
    write_manifest(folder, [clip], "operator", "test", (start + 1.0, start + 4.0))
    return MarketFootage(
        segment_id=segment_id,
        alert_id=alert_id,
        export_id=EXPORT_ID,
        queued_job_id=queued_job_id,
        finished_job_id=finished_job_id,
        finding_id=finding.id,
        start=start,
        end=end,
        plate_read_id=plate_read_id,
        sighting_id=sighting_id,
    )


def market_plate(at: float) -> plates.NewPlateRead:
    """A car's plate read by the market camera at ``at`` (a real JPEG stands for the crop)."""
    return plates.NewPlateRead(
        camera_id=MARKET_CAMERA,
        track_id=7,
        class_name="car",
        plate="29-B1 123.45",
        confidence=0.9,
        agreeing=3,
        crops=4,
        first_at=at - 1.0,
        at=at,
        source="detect",
        crop_jpeg=jpeg(160, 60, seed=7),
    )


def market_sighting(at: float) -> sightings.NewSighting:
    """A person's best sighting on the market camera at ``at`` (a real JPEG for the crop,
    its colours and appearance computed as the sighting keeper computes them)."""
    picture = jpeg(80, 200, seed=8)
    image = np.asarray(cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR), np.uint8)
    return sightings.NewSighting(
        camera_id=MARKET_CAMERA,
        track_id=8,
        class_name="person",
        confidence=0.8,
        first_seen=at - 1.0,
        last_seen=at + 1.0,
        best_at=at,
        box=(100.0, 200.0, 180.0, 400.0),
        zones=(),
        colours=colour_shares(image),
        appearance=appearance_vector(image),
        crop_jpeg=picture,
    )


def site_for(database: Path, **dashboard: object) -> SiteConfig:
    """The dashboard tests' site with its store at ``database``, so that exports and clips
    are looked for (and made) next to it."""
    site = site_config(**dashboard)
    return site.model_copy(update={"storage": StorageConfig(database=database)})
