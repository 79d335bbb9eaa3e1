"""Tamper detection: covered, blurred, moved and frozen pictures are reported; dark rooms,
light switching and empty scenes are not. First on real clips altered in memory, then end
to end through the camera farm with altered clips encoded for the test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from ingest.decode import FrameSampler, luma
from ingest.motion import Grey, small_grey
from ingest.tamper import Tamper, TamperDetector
from matthan.farm import CameraFarm, Mount
from tests.paths import clips_dir
from tests.test_ingest import IngestRun, alerts, camera, site, wait_for

Alteration = Callable[[np.ndarray], np.ndarray]


def greys(clip: str, fps: float = 1.0) -> list[tuple[float, Grey]]:
    sampler, out = FrameSampler(fps), []
    with av.open(str(clips_dir() / clip)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if sampler.due(t):
                out.append((t, small_grey(luma(frame))))
    return out


def confirmed(sequence: list[tuple[float, Grey]]) -> list[tuple[float, Tamper]]:
    detector = TamperDetector(debounce_s=10)
    found = []
    for t, grey in sequence:
        new, _ = detector.check(grey, t)
        found += [(t, kind) for kind in new]
    return found


SHIFT = np.float32([[1, 0, 30], [0, 1, 10]])
ALTERATIONS: dict[Tamper, Alteration] = {
    Tamper.COVERED: lambda g: np.full_like(g, 4),
    Tamper.BLURRED: lambda g: cv2.GaussianBlur(g, (0, 0), 3),
    Tamper.MOVED: lambda g: cv2.warpAffine(
        g, SHIFT, (g.shape[1], g.shape[0]), borderMode=cv2.BORDER_REFLECT
    ),
}


@pytest.fixture(scope="module")
def pets() -> list[tuple[float, Grey]]:
    return greys("pets09_s2l1_vtest.mp4")


@pytest.mark.parametrize("kind", list(ALTERATIONS))
def test_altered_picture_is_reported_after_the_debounce(
    pets: list[tuple[float, Grey]], kind: Tamper
) -> None:
    cut = 25
    sequence = pets[:cut] + [(t, ALTERATIONS[kind](g)) for t, g in pets[cut:]]
    found = confirmed(sequence)
    assert [k for _, k in found] == [kind]
    assert 10 <= found[0][0] - pets[cut][0] <= 12


def test_frozen_picture_is_reported(pets: list[tuple[float, Grey]]) -> None:
    cut = 25
    frozen = pets[cut][1]
    found = confirmed(pets[:cut] + [(t, frozen.copy()) for t, _ in pets[cut:]])
    assert [k for _, k in found] == [Tamper.FROZEN]


@pytest.mark.parametrize(
    "clip",
    [
        "pets09_s2l1_vtest.mp4",
        "indoor_light_switching_no_motion.mp4",
        "empty_parking_lot_pingpong.mp4",
        "indoor_lowlight_people.mp4",
        "intel_parking_lot_cars.mp4",
    ],
)
def test_normal_scenes_raise_nothing(clip: str) -> None:
    sequence = greys(clip)
    looped = sequence + [(t + sequence[-1][0] + 1, g) for t, g in sequence]
    assert confirmed(looped) == []


def encode_altered(source: Path, out: Path, alter: Alteration, normal_s: float = 12.0) -> Path:
    """A copy of ``source`` whose picture is altered after ``normal_s`` seconds."""
    with av.open(str(source)) as reader, av.open(str(out), "w") as writer:
        stream = reader.streams.video[0]
        rate = Fraction(stream.average_rate or 10)
        encoded = writer.add_stream("libx264", rate=rate)
        encoded.width, encoded.height = stream.width, stream.height
        encoded.pix_fmt = "yuv420p"
        encoded.options = {"preset": "ultrafast", "g": "25", "bf": "0", "sc_threshold": "0"}
        for index, frame in enumerate(reader.decode(stream)):
            if index >= 300:
                break
            picture = frame.to_ndarray(format="bgr24")
            if index >= normal_s * float(rate):
                picture = alter(picture)
            image = av.VideoFrame.from_ndarray(picture, format="bgr24")
            writer.mux(encoded.encode(image))
        writer.mux(encoded.encode(None))
    return out


@pytest.fixture
def run_ingest(tmp_path: Path) -> Iterator[Callable[..., IngestRun]]:
    from common.config import RecordingConfig

    runs: list[IngestRun] = []

    def start(config: object) -> IngestRun:
        run = IngestRun(config, tmp_path, RecordingConfig(enabled=False))  # type: ignore[arg-type]
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.close()


@pytest.mark.e2e
@pytest.mark.timeout(150)
def test_farm_cameras_tampered_and_not(
    tmp_path: Path, run_ingest: Callable[..., IngestRun]
) -> None:
    clips = clips_dir()
    pets = clips / "pets09_s2l1_vtest.mp4"
    black = encode_altered(pets, tmp_path / "black.mp4", lambda p: (p // 40).astype(np.uint8) * 0)
    blurred = encode_altered(pets, tmp_path / "blur.mp4", lambda p: cv2.GaussianBlur(p, (0, 0), 8))
    mounts = [
        Mount("black", black),
        Mount("blurred", blurred),
        Mount("lights", clips / "indoor_light_switching_no_motion.mp4"),
        Mount("empty", clips / "empty_parking_lot_pingpong.mp4"),
    ]
    with CameraFarm(mounts) as farm:
        names = [mount.name for mount in mounts]
        config = site(
            [{**camera(name, farm.url(name)), "motion": {}} for name in names],
            tamper_debounce_s=5,
        )
        run = run_ingest(config)
        wait_for(lambda: alerts(run.store, "black", "tamper_covered"), 60, "covered alert")
        wait_for(lambda: alerts(run.store, "blurred", "tamper_blurred"), 30, "blurred alert")
        time.sleep(max(0.0, 40 - (time.monotonic() - run.started)))
        for name in ("lights", "empty"):
            kinds = run.store.read("SELECT kind FROM alerts WHERE camera_id = ?", (name,))
            assert kinds == [], (name, [row[0] for row in kinds])
        assert run.gated("empty", "motion") == 0
