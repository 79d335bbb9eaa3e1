"""The RTSP camera farm, end to end: a real server, real clips, read with PyAV over RTSP/TCP."""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from common.paths import default_clips_dir
from matthan.farm import CameraFarm, FarmError, Mount
from matthan.farm.control import SYSTEM_PYTHON

PETS = default_clips_dir() / "pets09_s2l1_vtest.mp4"  # 768x576, 10 fps
CARS = default_clips_dir() / "intel_parking_lot_cars.mp4"  # 768x432, 12.5 fps
SHORT = default_clips_dir() / "intel_person_bicycle_car_preview.mp4"  # 480x270, 12 fps, 3.4 s
READ_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "500000", "probesize": "32768"}
OPEN_AND_READ_TIMEOUT_S = (5.0, 3.0)
SETTLE_S = 1.0
"""FFmpeg hands over the frames it buffered while probing in one burst; rates skip that second."""


def _why_unavailable() -> str | None:
    if not all(clip.exists() for clip in (PETS, CARS, SHORT)):
        return f"clips missing from {default_clips_dir()} (set MATTHAN_CLIPS)"
    probe = "import gi; gi.require_version('GstRtspServer', '1.0')"
    if (
        not Path(SYSTEM_PYTHON).exists()
        or subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, check=False).returncode
    ):
        return f"{SYSTEM_PYTHON} lacks GStreamer's RTSP server bindings"
    return None


_UNAVAILABLE = _why_unavailable()
pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(autouse=True, scope="module")
def _farm_can_run() -> None:
    """Without its clips or GStreamer the farm cannot be tested: fail saying so (a skip
    would let the suite pass having tested nothing)."""
    if _UNAVAILABLE is not None:
        pytest.fail(_UNAVAILABLE, pytrace=False)


@dataclass(frozen=True)
class Reading:
    """What a reader saw: pictures per second after settling, picture sizes, and whether the
    timestamps only ever went up."""

    fps: float
    sizes: frozenset[tuple[int, int]]
    rising: bool


def clip_format(clip: Path) -> tuple[float, tuple[int, int]]:
    """The clip's own frame rate and size, read from the file."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate is not None
        return float(stream.average_rate), (stream.width, stream.height)


def open_stream(url: str) -> av.container.InputContainer:
    return av.open(url, options=READ_OPTIONS, timeout=OPEN_AND_READ_TIMEOUT_S)


def read_for(url: str, seconds: float) -> Reading:
    """Decode every frame for `seconds` after the first one; rate over the settled part."""
    with open_stream(url) as container:
        arrivals: list[float] = []
        sizes: set[tuple[int, int]] = set()
        stamps: list[int] = []
        for frame in container.decode(video=0):
            arrivals.append(time.monotonic())
            sizes.add((frame.width, frame.height))
            if frame.pts is not None:  # FFmpeg may not know the very first one's
                stamps.append(frame.pts)
            if arrivals[-1] - arrivals[0] >= seconds:
                break
    settled = [t for t in arrivals if t >= arrivals[0] + SETTLE_S]
    fps = (len(settled) - 1) / (settled[-1] - settled[0])
    rising = all(a < b for a, b in itertools.pairwise(stamps))
    return Reading(fps, frozenset(sizes), rising)


def first_picture(url: str) -> tuple[int, int]:
    with open_stream(url) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def seconds_until_hangup(frames: Iterator[av.VideoFrame], deadline_s: float) -> float:
    """Keep decoding until the stream ends or errors; how long that took (inf: it never did)."""
    start = time.monotonic()
    try:
        while time.monotonic() - start < deadline_s:
            next(frames)
    except (StopIteration, av.error.FFmpegError):
        return time.monotonic() - start
    return float("inf")


@pytest.fixture(scope="module")
def farm() -> Iterator[CameraFarm]:
    mounts = [
        Mount("pets", PETS),
        Mount("cars", CARS, offset_frames=100),
        Mount("short", SHORT),
        Mount("doomed", PETS, offset_frames=300),
        Mount("frozen", CARS),
        Mount("junk", CARS, mode="garbage"),
    ]
    with CameraFarm(mounts) as running:
        yield running


def test_cameras_loop_their_clips_in_real_time(farm: CameraFarm) -> None:
    clips = {"pets": PETS, "cars": CARS, "short": SHORT}  # "short" loops once in 4.5 s
    with ThreadPoolExecutor(len(clips)) as pool:
        readings = {name: pool.submit(read_for, farm.url(name), 4.5) for name in clips}
    for name, clip in clips.items():
        fps, size = clip_format(clip)
        reading = readings[name].result()
        assert reading.sizes == {size}
        assert reading.fps == pytest.approx(fps, rel=0.2), name
        assert reading.rising, name


def test_credentials_are_required_when_set() -> None:
    with CameraFarm([Mount("pets", PETS)], username="viewer", password="p@ss:word") as farm:
        with pytest.raises(av.error.HTTPUnauthorizedError):
            open_stream(farm.url("pets"))
        with pytest.raises(av.error.HTTPUnauthorizedError):
            open_stream(farm.url("pets").replace("rtsp://", "rtsp://viewer:wrong@"))
        assert first_picture(farm.url("pets", with_credentials=True)) == clip_format(PETS)[1]


def test_a_stopped_camera_hangs_up_and_comes_back(farm: CameraFarm) -> None:
    with open_stream(farm.url("doomed")) as container:
        frames = container.decode(video=0)
        next(frames)
        farm.stop_mount("doomed")
        assert seconds_until_hangup(frames, deadline_s=5.0) < 5.0
    with pytest.raises(av.error.HTTPNotFoundError):
        open_stream(farm.url("doomed"))
    farm.start_mount("doomed")
    assert first_picture(farm.url("doomed")) == clip_format(PETS)[1]


def test_a_stalled_camera_keeps_the_connection_and_resumes(farm: CameraFarm) -> None:
    arrivals: list[float] = []
    resume = threading.Timer(2.0, farm.resume_mount, ["frozen"])
    with open_stream(farm.url("frozen")) as container:
        for _ in container.decode(video=0):
            arrivals.append(time.monotonic())
            if len(arrivals) == 10:
                farm.stall_mount("frozen")
                resume.start()
            if len(arrivals) == 40:
                break
    resume.join()
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert 1.5 < max(gaps) < 3.0


def test_garbage_mode_opens_but_never_decodes_while_others_play(farm: CameraFarm) -> None:
    packets = pictures = 0
    with open_stream(farm.url("junk")) as container:
        stream = container.streams.video[0]
        started = time.monotonic()
        for packet in container.demux(stream):
            packets += 1
            with contextlib.suppress(av.error.InvalidDataError):
                pictures += len(stream.codec_context.decode(packet))
            if time.monotonic() - started > 2.0:
                break
    assert packets > 10
    assert pictures == 0
    assert first_picture(farm.url("pets")) == clip_format(PETS)[1]


def test_a_mount_added_at_run_time_serves(farm: CameraFarm) -> None:
    farm.add_mount(Mount("late", CARS, offset_frames=200))
    assert first_picture(farm.url("late")) == clip_format(CARS)[1]


def test_a_farm_that_cannot_start_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-clip.mp4"
    with pytest.raises(FarmError, match="cannot demux"):
        CameraFarm([Mount("ghost", missing)])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "a/b"}, "mount name"),
        ({"offset_frames": -1}, "offset_frames"),
        ({"mode": "noisy"}, "mode"),
    ],
)
def test_mounts_reject_bad_values(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"name": "cam", "clip": PETS, **kwargs}
    with pytest.raises(ValueError, match=message):
        Mount(**fields)  # type: ignore[arg-type]
