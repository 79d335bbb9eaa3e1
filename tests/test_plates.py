"""Tests of the plate reader (``detect.plates``) on real Vietnamese plates with the real OCR models.

The data set is ``<shared>/plates/vn-parking`` (see its README): 75 plate crops and 14 frames
with the plates read by eye in ``labels.csv``. The normaliser and the vote are also tested on
their own, table-driven, without models.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest

from detect.backends.factory import create_backend
from detect.detector import Detector, class_ids_for
from detect.plates import PlateRead, PlateReader, PlateVote, normalise_plate
from detect.plates import models as ocr_models
from detect.plates.formats import one_row, two_rows
from detect.plates.rows import candidates
from tests.paths import (
    PLATES_HOW,
    REPO,
    clips_dir,
    models_dir,
    plates_dir,
    require,
    require_clip,
    require_model,
)

Image = npt.NDArray[np.uint8]
VEHICLES = ("car", "motorcycle", "bus", "truck")


def load(path: Path) -> Image:
    """A BGR image the test needs."""
    image = cv2.imread(str(require(path, "image", PLATES_HOW)))
    assert image is not None, f"cannot decode {path}"
    return np.asarray(image, dtype=np.uint8)


def crop_labels() -> list[dict[str, str]]:
    """The crops' rows of ``labels.csv``: file, plate_text, rows."""
    with (plates_dir() / "labels.csv").open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["file"].startswith("crops/")]


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader(threads=1)


@pytest.fixture(scope="module")
def crop_reads(reader: PlateReader) -> list[tuple[dict[str, str], PlateRead | None]]:
    """Every labelled crop with what the reader read on it."""
    return [(row, reader.read(load(plates_dir() / row["file"]))) for row in crop_labels()]


# --- the models ship with the wheel --------------------------------------------------------


def test_ocr_models_come_with_the_installed_package() -> None:
    folder = ocr_models.models_dir()
    for name in (ocr_models.DETECTION_MODEL, ocr_models.RECOGNITION_MODEL):
        assert (folder / name).stat().st_size > 1_000_000, f"{name} missing from {folder}"


# --- real crops ----------------------------------------------------------------------------


def test_every_distinct_plate_is_read_exactly_from_one_of_its_crops(
    crop_reads: list[tuple[dict[str, str], PlateRead | None]],
) -> None:
    plates = {row["plate_text"] for row, _ in crop_reads}
    assert len(plates) == 7, f"the data set should hold 7 distinct plates, has {sorted(plates)}"
    read_exactly = {
        row["plate_text"] for row, read in crop_reads if read and read.text == row["plate_text"]
    }
    assert read_exactly == plates, f"never read exactly: {sorted(plates - read_exactly)}"


def test_most_crops_are_read_and_no_crop_gives_a_plate_of_another_vehicle(
    crop_reads: list[tuple[dict[str, str], PlateRead | None]],
) -> None:
    exact = sum(read is not None and read.text == row["plate_text"] for row, read in crop_reads)
    assert exact >= 0.9 * len(crop_reads), f"only {exact}/{len(crop_reads)} crops read exactly"
    others = {row["plate_text"] for row, _ in crop_reads}
    for row, read in crop_reads:
        if read is not None and read.text != row["plate_text"]:
            assert read.text not in others, f"{row['file']} read as another plate: {read.text}"


def test_a_two_row_plate_is_read_as_one_plate_of_two_rows(
    reader: PlateReader, crop_reads: list[tuple[dict[str, str], PlateRead | None]]
) -> None:
    two_row = [(row, read) for row, read in crop_reads if row["rows"] == "2"]
    assert len(two_row) > 60
    for row, read in two_row:
        if read is None:
            continue
        assert len(read.rows) == 2, f"{row['file']}: {read.rows}"
        assert read.text.count(" ") == 1, f"{row['file']}: {read.text} is not one two-row plate"
        # Neither row alone fits a plate: the rows of one plate can never become two plates.
        lines = reader.lines(load(plates_dir() / row["file"]))
        singles = [c.texts for c in candidates(lines) if len(c.rows) == 1]
        assert all(normalise_plate(texts) is None for texts in singles), f"{row['file']}: {singles}"


def test_the_plate_box_lies_inside_the_crop_and_holds_the_picture(
    crop_reads: list[tuple[dict[str, str], PlateRead | None]],
) -> None:
    row, read = next((row, read) for row, read in crop_reads if read is not None)
    height, width = load(plates_dir() / row["file"]).shape[:2]
    x0, y0, x1, y1 = read.box
    assert 0 <= x0 < x1 <= width + 1
    assert 0 <= y0 < y1 <= height + 1
    assert read.crop.shape[:2] == (min(y1, height) - y0, min(x1, width) - x0)
    assert 0.6 <= read.confidence <= 1.0


def test_a_track_of_crops_votes_for_its_plate(
    crop_reads: list[tuple[dict[str, str], PlateRead | None]],
) -> None:
    """All crops of the motorbike 84-B1 (the hardest series letter of the set) as one track."""
    vote = PlateVote()
    for row, read in crop_reads:
        if row["plate_text"] == "84-B1 362.17":
            vote.add(read)
    plate = vote.result()
    assert plate is not None
    assert plate.text == "84-B1 362.17"
    assert plate.crops >= 15
    assert plate.agreeing >= plate.crops // 2
    assert 0.5 < plate.confidence <= 1.0
    assert plate.crop.size > 0


# --- whole frames: vehicles found by our detector, then their plates -------------------------


@pytest.mark.parametrize(
    ("frame", "plate"),
    [("clip4_new_0.jpg", "51G-971.62"), ("clip3_new_5.jpg", "75-H1 357.92")],
    ids=["car-one-row", "motorbike-two-rows"],
)
def test_a_plate_is_read_from_the_vehicle_our_detector_finds(
    reader: PlateReader, frame: str, plate: str
) -> None:
    model = require_model(models_dir() / "yolov8n.onnx")
    image = load(plates_dir() / "frames" / frame)
    backend = create_backend("onnxruntime", model, 1)
    try:
        detector = Detector(backend, classes=class_ids_for(VEHICLES, backend.class_names))
        boxes = detector.detect([image])[0].xyxy.astype(int)
    finally:
        backend.close()
    reads = [reader.read(image[y0:y1, x0:x1]) for x0, y0, x1, y1 in boxes]
    assert plate in {r.text for r in reads if r is not None}, [r and r.text for r in reads]


# --- crops with no plate -------------------------------------------------------------------


def pets_people(count: int) -> Iterator[Image]:
    """Up to ``count`` person crops from the first frame of the PETS 2009 clip, by its ground truth
    (grown by half a box on each side so they include the ground and background)."""
    clip = require_clip(clips_dir() / "pets09_s2l1_vtest.mp4")
    truth = require_clip(clips_dir() / "pets09_s2l1_vtest.gt_frames0001-0080.txt")
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
    boxes = [line.split(",") for line in truth.read_text().splitlines() if line.startswith("1,")]
    for fields in boxes[:count]:
        x, y, w, h = (float(v) for v in fields[2:6])
        x0, y0 = max(0, int(x - w / 2)), max(0, int(y - h / 2))
        yield np.ascontiguousarray(frame[y0 : int(y + 1.5 * h), x0 : int(x + 1.5 * w)])


def test_people_and_empty_ground_give_no_plate(reader: PlateReader) -> None:
    people = list(pets_people(3))
    assert len(people) == 3
    frame = load(plates_dir() / "frames" / "clip4_new_0.jpg")
    ground = frame[930:1080, 0:1920]  # below the car: tarmac, no vehicle
    for crop in [*people, ground]:
        assert reader.read(crop) is None


@pytest.mark.parametrize(
    "crop",
    [
        np.random.default_rng(19).integers(0, 256, (300, 300, 3), dtype=np.uint8),
        np.random.default_rng(20).integers(0, 256, (120, 400, 3), dtype=np.uint8),
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((1, 1, 3), np.uint8),
        np.full((5, 400, 3), 255, np.uint8),
        np.zeros((200, 300, 3), np.uint8),
        np.zeros((200, 300), np.uint8),
    ],
    ids=["noise", "noise-wide", "empty", "1x1", "thin", "black", "grey"],
)
def test_garbage_empty_and_tiny_crops_give_none_without_error(
    reader: PlateReader, crop: Image
) -> None:
    assert reader.read(crop) is None


# --- the normaliser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "plate"),
    [
        (["75-H1", "357.92"], "75-H1 357.92"),  # motorbike, 5 digits
        (["81-K5", "3579"], "81-K5 3579"),  # motorbike, old 4 digits
        (["81-AA", "048.92"], "81-AA 048.92"),  # motorbike, two-letter series
        (["51A", "192.22"], "51A 192.22"),  # square car plate
        (["51G-971.62"], "51G-971.62"),  # car, one row
        (["51G-1234"], "51G-1234"),  # car, old one row
        (["51LD-123.45"], "51LD-123.45"),  # car, two-letter series
        (["75H1", "35792"], "75-H1 357.92"),  # separators are not needed
        (["75·H1", " 357 92 "], "75-H1 357.92"),  # nor trusted
        # confusables: a digit where the format wants a digit ...
        (["7S-H1", "3S7.9Z"], "75-H1 357.92"),
        (["BI-K5", "3579"], "81-K5 3579"),
        (["66-P1", "B9O.7S"], "66-P1 890.75"),
        (["5IG-97I.6Z"], "51G-971.62"),
        (["66-PI", "895.75"], "66-P1 895.75"),  # second series character: I is no letter
        (["84-B1", "3D2.17"], "84-B1 302.17"),
        # ... and a letter where it wants a letter
        (["84-81", "362.17"], "84-B1 362.17"),
        (["510", "192.22"], "51D 192.22"),
        (["515-123.45"], "51S-123.45"),
        (["512-123.45"], "51Z-123.45"),
        (["75-O1", "357.92"], "75-D1 357.92"),
    ],
)
def test_normaliser_reads_formats_and_resolves_confusables_by_position(
    rows: list[str], plate: str
) -> None:
    assert normalise_plate(rows) == plate


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [""],
        ["", ""],
        ["75-H1"],  # a top row alone
        ["357.92"],  # a bottom row alone
        ["75-H1", "357.92", "12"],  # three rows
        ["10-H1", "357.92"],  # province below 11
        ["1O-H1", "357.92"],  # ... also after confusables (10)
        ["75-I1", "357.92"],  # I is not a series letter
        ["75-W1", "357.92"],  # nor W (the 20 letters leave out I J O Q R W)
        ["75-R1", "357.92"],
        ["75-31", "362.17"],  # 3 is no letter
        ["75-H1", "357"],  # too few digits
        ["75-H1", "357.921"],  # too many
        ["75-H1", "35A.92"],  # A is no digit
        ["51G-971.6"],  # a dot means five digits: one was lost, not an old four-digit plate
        ["75-H1", "357.9"],
        ["51-971.62"],  # no series
        ["5G-971.62"],  # one-digit province
        ["51GHK-971.62"],  # three letters
        ["HELLO"],
        ["51A", "19222", "51A"],
    ],
)
def test_normaliser_gives_none_for_what_fits_no_format(rows: list[str]) -> None:
    assert normalise_plate(rows) is None


def test_one_row_prefers_the_reading_that_changes_fewer_characters() -> None:
    assert one_row("51LD12345") == "51LD-123.45"
    assert one_row("51LD1234") == "51LD-1234"  # not 51L-012.34 (D read as 0: one change)
    assert one_row("51L012345") == "51LD-123.45"  # the only fit
    assert two_rows("81AA", "04892") == "81-AA 048.92"


# --- the vote ------------------------------------------------------------------------------


def read(text: str, confidence: float) -> PlateRead:
    """A read of ``text`` with a 1x1 picture whose value is the confidence (to find it again)."""
    pixel = np.full((1, 1, 3), int(confidence * 100), np.uint8)
    return PlateRead(text, confidence, tuple(text.split(" ")), (0, 0, 1, 1), pixel)


def test_vote_picks_the_text_most_reads_agree_on_and_keeps_its_surest_crop() -> None:
    vote = PlateVote()
    for r in [read("75-H1 357.92", 0.8), read("75-H1 357.92", 0.9), read("15-D1 357.92", 0.99)]:
        vote.add(r)
    plate = vote.result()
    assert plate is not None
    assert (plate.text, plate.agreeing, plate.crops) == ("75-H1 357.92", 2, 3)
    assert plate.crop[0, 0, 0] == 90
    assert plate.confidence == pytest.approx((1.7 / 2.69) * 0.85)


def test_vote_confidence_drops_with_misses_and_disagreement() -> None:
    clean, missed, split = PlateVote(), PlateVote(), PlateVote()
    for vote in (clean, missed, split):
        vote.add(read("51G-971.62", 0.9))
        vote.add(read("51G-971.62", 0.9))
    missed.add(None)
    split.add(read("51G-971.61", 0.9))
    results = [v.result() for v in (clean, missed, split)]
    assert all(r is not None and r.text == "51G-971.62" for r in results)
    c, m, s = (r.confidence for r in results if r is not None)
    assert c == pytest.approx(0.9)
    assert s < m < c


def test_vote_without_reads_gives_none_and_rejects_bad_weights() -> None:
    vote = PlateVote()
    assert vote.result() is None
    vote.add(None)
    assert vote.result() is None
    with pytest.raises(ValueError, match="miss_weight"):
        PlateVote(miss_weight=2.0)


# --- the benchmark harness -----------------------------------------------------------------


@pytest.mark.timeout(300)
def test_benchmark_writes_its_summary(tmp_path: Path) -> None:
    """The harness runs end to end (no figure is asserted: they live in its results)."""
    plates_dir()
    model = require_model(models_dir() / "yolov8n.onnx")
    command = [sys.executable, "-m", "benchmarks.plates_bench", "--out", str(tmp_path)]
    done = subprocess.run(
        [*command, "--model", str(model)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "plates-latest.json").read_text(encoding="utf-8"))
    summary = report["summary"]
    for key in ("crop_exact", "crop_char", "frame_exact", "read_ms_p50", "read_ms_p95"):
        assert isinstance(summary[key], float), key
    assert report["command"].startswith("python -m benchmarks.plates_bench")
    assert report["machine"]["cpu_count"] >= 1
