"""Real sightings for the tests of investigation search: the PETS 2009 crossroads clip run
through the real model and tracker, every ended track's best sighting kept as the detection
core keeps it.

In the clip a woman in a red jacket walks among people in dark clothes (and a man in a red
and navy jacket) from :data:`RED_WOMAN_S`. :func:`analyse_pets` runs the pipeline once (about
ten seconds for the whole clip at 2 fps); :func:`keep_sightings` stores its ended tracks as
sightings of any camera, at any moment, so one run fills several cameras and stores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import av
import numpy as np

from common.alert_rows import LiveAlerts
from common.config import CameraConfig, SiteConfig
from common.store import Store
from detect.alerts import AlertKeeper
from detect.core import CameraAnalysis, build_detector
from detect.sighting_keeper import SightingKeeper, TrackToKeep
from detect.sightings import EndedTrack
from tests.paths import clips_dir, require_clip

CLIP = clips_dir() / "pets09_s2l1_vtest.mp4"
RED_WOMAN_S = (33.0, 80.0)
"""When the woman in the red jacket is in view (seconds into the clip)."""
ANALYSIS_FPS = 2


def pipeline_site(camera: CameraConfig) -> SiteConfig:
    """A site of one camera, analysed as the detection core analyses it (640 px, 2 fps)."""
    return SiteConfig.model_validate(
        {
            "site": {"name": "test"},
            "detector": {"input_size": 640},
            "ingest": {"analysis_fps": ANALYSIS_FPS},
            "cameras": [camera.model_dump(mode="json", exclude_unset=True)],
        }
    )


@dataclass(frozen=True, slots=True)
class PetsTracks:
    """The ended tracks of one run over the clip, and the detector's class names."""

    ended: tuple[EndedTrack, ...]
    class_names: tuple[str, ...]
    start: float
    """The wall time given to the clip's first frame."""


def analyse_pets(
    site: SiteConfig, start: float, alerts: Store, seconds: float | None = None
) -> PetsTracks:
    """Run the site's first camera's rules over the clip (its first ``seconds``, or all of
    it) at 2 fps, the first frame at wall time ``start``; the alerts the rules raise go to
    the store ``alerts``. Every track is ended at the clip's end."""
    require_clip(CLIP)
    detector = build_detector(site, threads=2)
    camera = site.cameras[0]
    ended: list[EndedTrack] = []
    analysis = CameraAnalysis(site, camera, detector.class_names, live=False, on_ended=ended.append)
    keeper = AlertKeeper(LiveAlerts(alerts), None, detector.class_names, live=False)
    with av.open(str(CLIP)) as source:
        stream = source.streams.video[0]
        assert stream.average_rate is not None
        rate = float(stream.average_rate)
        step = round(rate / ANALYSIS_FPS)
        for index, frame in enumerate(source.decode(stream)):
            if seconds is not None and index / rate >= seconds:
                break
            if index % step:
                continue
            image = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
            found = detector.detect([image])[0]
            analysis.analyse(image, found, start + index / rate, keeper)
    analysis.sightings.end_all()
    return PetsTracks(tuple(ended), detector.class_names, start)


def keep_sightings(
    store: Store,
    tracks: PetsTracks,
    camera: CameraConfig,
    shift_s: float = 0.0,
) -> list[int]:
    """Keep every track's sighting as ``camera``'s (its zones), ``shift_s`` seconds later
    than the run saw it; returns the ids kept."""
    keeper = SightingKeeper(store, {camera.id: camera}, tracks.class_names)
    kept = []
    for track in tracks.ended:
        moved = _shifted(track, shift_s)
        name = tracks.class_names[track.best.class_id]
        sighting_id = keeper.store(TrackToKeep(camera.id, name, moved))
        if sighting_id is not None:
            kept.append(sighting_id)
    return kept


def _shifted(track: EndedTrack, shift_s: float) -> EndedTrack:
    if not shift_s:
        return track
    best = dataclasses.replace(track.best, at=track.best.at + shift_s)
    return dataclasses.replace(
        track,
        best=best,
        first_seen=track.first_seen + shift_s,
        last_seen=track.last_seen + shift_s,
    )
