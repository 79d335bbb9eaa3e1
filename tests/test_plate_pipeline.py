"""The plate reader in the live core: which crops are read, its queue, the worker that reads,
votes, stores and raises watch-list alerts, and the main stream's picture of a moment.

Real parts: the data set's real photos, the real OCR models, a real SQLite store, a real
multiprocessing channel for the notices, and a real fragmented MP4 written by the recorder
(left open, as while recording) for the main stream.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest

from common import alert_rows, jobs, plates
from common.alert_writer import AlertKind
from common.channel import Channel, DropPolicy
from common.coco import COCO_CLASSES
from common.config import PlatesConfig, SiteConfig
from common.jobs import JobSource, JobState, NewJob
from common.messages import AlertNotice
from common.plates import PlateQuery
from common.store import Store
from detect.core import CameraAnalysis, build_detector
from detect.detections import Detections
from detect.job_run import JobRun
from detect.plates.candidates import MAX_OFFERS, PlateCandidates, PlateOffer
from detect.plates.main_stream import MainStreamFrames
from detect.plates.offer_queue import PlateQueue
from detect.plates.reader import PlateReader
from detect.plates.worker import PlateWorker
from ingest.recorder import PARTIAL_SUFFIX, SegmentRecorder, segment_start
from matthan.farm.photo_clip import MOTORBIKE_FRAMES, photo_clip
from tests.paths import plates_dir

Image = npt.NDArray[np.uint8]
NAMES = COCO_CLASSES
MOTORCYCLE, PERSON = NAMES.index("motorcycle"), NAMES.index("person")
BIKE_BOX = (0.0, 1.0, 285.0, 343.0)
"""Where our detector finds the motorbike 75-H1 357.92 in clip3_new_5.jpg at 640x360."""
OTHER_BIKE_BOX = (445.0, 2.0, 633.0, 273.0)
"""...and the motorbike 84-B1 362.17 beside it."""


def photo(name: str = "clip3_new_5.jpg", width: int = 640) -> Image:
    image = cv2.imread(str(plates_dir() / "frames" / name))
    assert image is not None
    small = cv2.resize(image, (width, width * 9 // 16), interpolation=cv2.INTER_AREA)
    return np.asarray(small, np.uint8)


def tracked(boxes: list[tuple[float, float, float, float]], classes: list[int]) -> Detections:
    return Detections(
        xyxy=np.array(boxes, np.float32).reshape(-1, 4),
        confidence=np.full(len(boxes), 0.8, np.float32),
        class_id=np.array(classes, np.int32),
        tracker_id=np.arange(len(boxes), dtype=np.int64),
    )


def offer(
    box: tuple[float, float, float, float] = BIKE_BOX, track: int = 7, at: float = 0.0
) -> PlateOffer:
    return PlateOffer("cong", track, "motorcycle", photo(), box, at or time.time(), 1.0)


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "site.db")
    yield opened
    opened.close()


def test_a_track_is_offered_when_its_crop_gets_better_and_only_a_few_times() -> None:
    candidates = PlateCandidates("cong", NAMES)
    image = photo()
    small = (250.0, 120.0, 290.0, 170.0)
    first = candidates.offers(image, tracked([small], [MOTORCYCLE]), 10.0)
    assert [(o.track_id, o.box) for o in first] == [(0, small)]
    assert candidates.offers(image, tracked([small], [MOTORCYCLE]), 10.1) == []  # too soon
    assert candidates.offers(image, tracked([small], [MOTORCYCLE]), 11.0) == []  # no better
    offered = 1
    for step in range(1, 7):  # the vehicle comes closer: its box grows
        grow = 1.35**step
        box = (250.0, 120.0, 250.0 + 40 * grow, 120.0 + 50 * grow)
        offered += len(candidates.offers(image, tracked([box], [MOTORCYCLE]), 11.0 + step))
    assert offered == MAX_OFFERS


def test_people_tiny_boxes_and_held_tracks_are_never_offered() -> None:
    candidates = PlateCandidates("cong", NAMES)
    image = photo()
    assert candidates.offers(image, tracked([BIKE_BOX], [PERSON]), 1.0) == []
    assert candidates.offers(image, tracked([(10.0, 10.0, 20.0, 50.0)], [MOTORCYCLE]), 1.0) == []
    assert candidates.offers(image, tracked([(5.0, 5.0, 6.0, 6.0)], [MOTORCYCLE]), 1.0) == []


def test_a_camera_without_plates_offers_nothing_even_with_a_reader() -> None:
    site = SiteConfig.model_validate(
        {"site": {"name": "t"}, "cameras": [{"id": "c", "name": "c", "detect_url": "rtsp://h/s"}]}
    )
    offers: list[PlateOffer] = []
    analysis = CameraAnalysis(site, site.cameras[0], NAMES, plates=offers.append)
    assert analysis._plate_candidates is None
    camera = site.cameras[0].model_copy(update={"plates": PlatesConfig(enabled=True)})
    assert CameraAnalysis(site, camera, NAMES, plates=offers.append)._plate_candidates is not None


def test_a_full_queue_drops_its_oldest_offer_and_counts_it() -> None:
    queue = PlateQueue(size=2)
    first, second, third = offer(track=1), offer(track=2), offer(track=3)
    for item in (first, second, third):
        queue.put(item)
    assert queue.dropped == 1
    assert queue.get(0.01) is second
    assert queue.get(0.01) is third
    assert queue.get(0.01) is None
    queue.close()
    queue.put(first)
    assert queue.get(0.01) is None


def notices() -> Channel[AlertNotice]:
    context = multiprocessing.get_context("spawn")
    return Channel.create(context, "test_plate_notices", 16, policy=DropPolicy.NEWEST)


def test_the_worker_reads_votes_stores_and_raises_one_watch_alert(
    store: Store, reader: PlateReader
) -> None:
    channel = notices()
    worker = PlateWorker(store, channel, {"cong": "detect"}, reader=lambda: reader)
    plates.add_watch(store, "75-H1*", note="xe bị trộm", by="trucban", at=time.time())
    worker.refresh_watch_list(force=True)
    now = time.time()
    result = worker.handle(offer(at=now))
    assert result is not None
    assert result.text == "75-H1 357.92"
    assert worker.handle(offer(at=now + 0.5)) is not None  # the same track read again
    other = worker.handle(offer(OTHER_BIKE_BOX, track=8, at=now + 0.6))
    assert other is not None
    assert other.text == "84-B1 362.17"

    reads = plates.search_reads(store, PlateQuery())
    assert sorted(r.plate for r in reads) == ["75-H1 357.92", "84-B1 362.17"]  # one row a track
    watched = next(r for r in reads if r.plate == "75-H1 357.92")
    assert (watched.crops, watched.agreeing, watched.watch_entry) == (2, 2, "75-H1*")
    alerts = [a for a in alert_rows.alerts_after(store, 0) if a.kind == AlertKind.PLATE_WATCH]
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert (alert.rule, alert.severity, alert.track_id) == ("75-H1*", "critical", 7)
    assert watched.alert_id == alert.id
    crop = alert_rows.snapshot(store, alert.id, crop=True)
    assert crop is not None
    assert crop[:2] == b"\xff\xd8"
    notice = channel.receive(2.0)
    assert notice == AlertNotice(alert.id, "cong", AlertKind.PLATE_WATCH)

    worker.expire(now + 60)  # the track is gone: its alert ends
    ended = alert_rows.alert(store, alert.id)
    assert ended is not None
    assert ended.ended_at is not None
    assert channel.receive(2.0) == AlertNotice(
        alert.id, "cong", AlertKind.PLATE_WATCH, updated=True
    )
    channel.close()


def test_an_entry_added_while_reading_is_used_and_a_plate_off_the_list_raises_nothing(
    store: Store, reader: PlateReader
) -> None:
    worker = PlateWorker(store, None, {"cong": "detect"}, reader=lambda: reader)
    worker.refresh_watch_list(force=True)
    assert worker.handle(offer(track=1)) is not None
    assert [a for a in alert_rows.alerts_after(store, 0) if a.kind == AlertKind.PLATE_WATCH] == []
    plates.add_watch(store, "84B1 36217", note="", by="trucban", at=time.time())
    worker.refresh_watch_list(force=True)
    worker.handle(offer(OTHER_BIKE_BOX, track=2))
    assert [
        a.rule for a in alert_rows.alerts_after(store, 0) if a.kind == AlertKind.PLATE_WATCH
    ] == ["84B1 36217"]


def test_a_vehicle_without_a_readable_plate_gets_no_read(store: Store, reader: PlateReader) -> None:
    worker = PlateWorker(store, None, {"cong": "detect"}, reader=lambda: reader)
    grey = PlateOffer("cong", 3, "car", np.full((360, 640, 3), 90, np.uint8), BIKE_BOX, 1.0, 1.0)
    assert worker.handle(grey) is None
    assert plates.search_reads(store, PlateQuery()) == []


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A segment of the photo clip being recorded (its file still ``.partial``) and its start."""
    folder = tmp_path_factory.mktemp("rec")
    clip = photo_clip(folder / "source.mp4")
    recorder = SegmentRecorder("cong", folder, 3600.0, lambda _: None)
    with av.open(str(clip)) as source:
        stream = source.streams.video[0]
        for packet in source.demux(stream):
            if packet.dts is not None:
                recorder.write(packet, stream)
    partial = next(folder.glob(f"cong/*/*{PARTIAL_SUFFIX}"))
    start = segment_start(partial)
    assert start is not None
    return folder, start


def test_the_main_stream_picture_of_a_moment_comes_from_the_segment_being_written(
    recording: tuple[Path, float],
) -> None:
    folder, start = recording
    frames = MainStreamFrames(folder, wait_s=0.5)
    picture = frames.frame_at("cong", start + 4.1)  # 1.1 s into the second photo
    assert picture is not None
    assert picture.image.shape == (1080, 1920, 3)
    assert abs(picture.offset_s) <= 0.1
    assert picture.decoded <= 15 + 1  # from the photo's keyframe on, not from the start
    expected = photo("clip3_new_5.jpg", width=1920)
    other = photo("clip3_new_0.jpg", width=1920)
    assert _difference(picture.image, expected) < _difference(picture.image, other)
    assert frames.frame_at("cong", start - 5) is None  # before any recording


def test_a_moment_not_recorded_yet_is_waited_for_then_given_up(
    recording: tuple[Path, float],
) -> None:
    folder, start = recording
    frames = MainStreamFrames(folder, wait_s=0.6)
    began = time.monotonic()
    assert frames.frame_at("cong", start + 60) is None
    assert time.monotonic() - began >= 0.5


def _difference(a: Image, b: Image) -> float:
    small = (320, 180)
    return float(np.mean(np.abs(cv2.resize(a, small).astype(np.int16) - cv2.resize(b, small))))


def test_a_reanalysis_job_reads_plates_into_its_findings_not_the_live_search(
    store: Store, tmp_path: Path
) -> None:
    site = SiteConfig.model_validate(
        {
            "site": {"name": "test"},
            "ingest": {"analysis_fps": 5, "analysis_size": 640},
            "cameras": [
                {
                    "id": "cong",
                    "name": "Cổng",
                    "detect_url": "rtsp://127.0.0.1/cong",
                    "plates": {"enabled": True},
                }
            ],
        }
    )
    clip = photo_clip(tmp_path / "upload.mp4", MOTORBIKE_FRAMES[:2])
    plates.add_watch(store, "75-H1*", note="", by="trucban", at=time.time())
    new = NewJob("cong", JobSource.UPLOAD, 1_800_000_000.0, None, "tester", clip.name, str(clip))
    job = jobs.job(store, jobs.add_job(store, new))
    assert job is not None
    ending = JobRun(site, store, build_detector(site, threads=2), job).run(threading.Event())
    assert ending is not None
    assert ending.state == JobState.DONE, ending
    assert "75-H1 357.92" in plates.job_plates(store, job.id).values()
    found = [
        a for a in jobs.job_alerts(store, job.id, limit=100) if a.kind == AlertKind.PLATE_WATCH
    ]
    assert [a.rule for a in found] == ["75-H1*"]
    assert found[0].ended_at is not None
    assert plates.search_reads(store, PlateQuery()) == []  # the job's reads stay with the job
    assert alert_rows.alerts_after(store, 0) == []
    jobs.finish(store, job.id, ending.state, ending.detail, ending.code)
    jobs.delete_job(store, job.id)
    assert plates.job_plates(store, job.id) == {}
